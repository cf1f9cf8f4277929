import type { ActivityBucket, ActivitySeries } from '../ops/minute-counts.js';

/** The drawing's own units; the SVG scales to the page's width. */
const WIDTH = 600;
const HEIGHT = 120;

type Measure = Exclude<keyof ActivityBucket, 'at'>;

/** One stacked part of each bar: its counter, its name for people, its CSS class (console.css colours it, light and dark). */
export interface ChartPart {
  readonly measure: Measure;
  readonly label: string;
  readonly className: string;
}

export interface ChartBar {
  readonly label: string;
  readonly total: number;
  readonly rects: readonly { readonly className: string; readonly x: number; readonly y: number; readonly width: number; readonly height: number }[];
  readonly counts: readonly { readonly label: string; readonly count: number }[];
}

/** An inline SVG bar chart, as the overview template draws it: bars, a title, and a text alternative. */
export interface Chart {
  readonly id: string;
  readonly title: string;
  /** Said in words: the span, each part's total and the busiest bar. */
  readonly summary: string;
  readonly width: number;
  readonly height: number;
  readonly parts: readonly ChartPart[];
  readonly bars: readonly ChartBar[];
}

const hhmm = (at: number) => `${new Date(at).toISOString().slice(11, 16)} UTC`;

/** A stacked bar chart of `series`, one bar per bucket, its parts drawn bottom up. */
export function chartOf(id: string, title: string, series: ActivitySeries, parts: readonly ChartPart[]): Chart {
  const { buckets } = series;
  const totals = buckets.map((bucket) => parts.reduce((sum, part) => sum + bucket[part.measure], 0));
  const top = Math.max(1, ...totals);
  const slot = WIDTH / buckets.length;
  const bars = buckets.map((bucket, index): ChartBar => {
    let base = HEIGHT;
    const rects = parts.flatMap((part) => {
      const height = (bucket[part.measure] / top) * HEIGHT;
      if (height === 0) return [];
      base -= height;
      return [{ className: part.className, x: round(index * slot + slot * 0.1), y: round(base), width: round(slot * 0.8), height: round(height) }];
    });
    return { label: hhmm(bucket.at), total: totals[index]!, rects, counts: parts.map((part) => ({ label: part.label, count: bucket[part.measure] })) };
  });
  return { id, title, summary: summaryOf(series, parts, totals), width: WIDTH, height: HEIGHT, parts, bars };
}

function summaryOf(series: ActivitySeries, parts: readonly ChartPart[], totals: readonly number[]): string {
  const { buckets, stepMs } = series;
  const per = stepMs === 60_000 ? 'minute' : 'hour';
  const end = hhmm(buckets.at(-1)!.at + stepMs);
  const span = per === 'minute' ? `${buckets.length} bars, one per minute, from ${hhmm(buckets[0]!.at)} to ${end}` : `${buckets.length} bars, one per hour, over the 24 hours to ${end}`;
  const sums = parts.map((part) => `${part.label}: ${buckets.reduce((sum, bucket) => sum + bucket[part.measure], 0)}`).join(', ');
  const peak = totals.reduce((best, total, index) => (total > totals[best]! ? index : best), 0);
  const busiest = totals[peak]! > 0 ? `; the busiest ${per} began ${hhmm(buckets[peak]!.at)} with ${totals[peak]}` : '; nothing in that time';
  return `${span}. ${sums}${busiest}.`;
}

const round = (value: number) => Math.round(value * 10) / 10;

/** The overview's charts: webhooks and delivery outcomes, per minute over the hour and per hour over the day. */
export function overviewCharts(hour: ActivitySeries, day: ActivitySeries): Chart[] {
  const intake: ChartPart[] = [
    { measure: 'accepted', label: 'accepted', className: 'bar-ok' },
    { measure: 'duplicate', label: 'duplicates', className: 'bar-calm' },
    { measure: 'rejected', label: 'rejected', className: 'bar-bad' },
  ];
  const outcomes: ChartPart[] = [
    { measure: 'delivered', label: 'delivered', className: 'bar-ok' },
    { measure: 'failed', label: 'failed', className: 'bar-bad' },
  ];
  return [
    chartOf('chart-intake-hour', 'Webhooks per minute, last hour', hour, intake),
    chartOf('chart-deliveries-hour', 'Delivery attempts per minute, last hour', hour, outcomes),
    chartOf('chart-intake-day', 'Webhooks per hour, last day', day, intake),
    chartOf('chart-deliveries-day', 'Delivery attempts per hour, last day', day, outcomes),
  ];
}
