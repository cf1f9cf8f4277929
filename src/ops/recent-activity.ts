import type { Activity, ActivityFeed } from './activity.js';

/**
 * The last `size` activities of this process, newest last: what the
 * console's live tail shows before its stream starts (or without script).
 * A fixed ring, so it costs the same whatever the traffic.
 */
export function createRecentActivity(feed: Pick<ActivityFeed, 'subscribe'>, size = 200) {
  const ring: Activity[] = [];
  let next = 0;
  feed.subscribe((activity) => {
    ring[next] = activity;
    next = (next + 1) % size;
  });
  return {
    /** Oldest first. */
    list(): Activity[] {
      return ring.length < size ? [...ring] : [...ring.slice(next), ...ring.slice(0, next)];
    },
  };
}

export type RecentActivity = ReturnType<typeof createRecentActivity>;
