/** How the writes bound for the writer thread are gathered into messages (thread-writer.ts). */
export interface GatherOptions {
  /** Posts as soon as it holds this many. */
  readonly max: number;
  /**
   * While earlier writes are still unanswered, hold new ones until they are
   * answered, at most this long (ms); 0 posts every turn's writes at the end
   * of the turn, whatever is in flight.
   */
  readonly windowMs: number;
  /** Whether writes posted earlier are still unanswered. */
  readonly busy: () => boolean;
}

export interface WriteGatherer<T> {
  add(item: T): void;
  /** Every write posted so far is answered: what is held goes at the end of this turn. */
  idle(): void;
  /** Posts what it holds now (before a close, which must come after every write). */
  flush(): void;
}

/**
 * Gathers writes into messages. A write asked for while none is in flight
 * goes at the end of its turn, as the writes of that turn do. One asked for
 * while earlier ones are being committed waits for their answer (or the
 * window's end): the WAL sync running for those (wal-sync.ts) could not have
 * covered it anyway, so it loses little by waiting, and everything gathered
 * meanwhile shares one message, one transaction and one sync instead of
 * paying each of them once per webhook.
 */
export function createWriteGatherer<T>(post: (batch: T[]) => void, options: GatherOptions): WriteGatherer<T> {
  let batch: T[] = [];
  let immediate: NodeJS.Immediate | undefined;
  let timer: NodeJS.Timeout | undefined;
  /**
   * A hold filled a whole message before the answers came: writes arrive faster than the thread answers, so
   * holding would only leave the thread idle for a round trip between groups. Writes then go at the end of their
   * turn until everything posted is answered (traffic moderate again).
   */
  let saturated = false;

  function send(): void {
    if (immediate) clearImmediate(immediate);
    if (timer) clearTimeout(timer);
    immediate = undefined;
    timer = undefined;
    if (batch.length === 0) return;
    const sent = batch;
    batch = [];
    post(sent);
  }

  function endOfTurn(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    immediate ??= setImmediate(send);
  }

  return {
    add(item) {
      batch.push(item);
      if (batch.length >= options.max) {
        if (timer) saturated = true;
        return send();
      }
      if (immediate || timer) return;
      if (options.windowMs > 0 && options.busy() && !saturated) timer = setTimeout(send, options.windowMs);
      else endOfTurn();
    },
    idle() {
      saturated = false;
      if (timer) endOfTurn();
    },
    flush: send,
  };
}
