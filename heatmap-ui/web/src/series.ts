// Series over a sliding time window, fed by a range query and then by live ticks. Times
// are the query grid's steps (seconds); a tick at a time already held replaces it, so a
// backfill that overlaps the ticks never doubles a point.

import type { RangeSeries } from './api';
import type { TickPoint } from './live';
import { metricKey } from './format';

export interface StoredSeries {
  key: string;
  metric: Record<string, string>;
  points: Map<number, number>;
}

export class SeriesWindow {
  readonly series = new Map<string, StoredSeries>();
  private readonly times = new Set<number>();
  /** Bumped when a series appears or goes: the cue to lay a chart out again. */
  layoutVersion = 0;

  clear(): void {
    this.series.clear();
    this.times.clear();
    this.layoutVersion++;
  }

  private get(metric: Record<string, string>): StoredSeries {
    const key = metricKey(metric);
    let s = this.series.get(key);
    if (!s) {
      s = { key, metric, points: new Map() };
      this.series.set(key, s);
      this.layoutVersion++;
    }
    return s;
  }

  addRange(result: RangeSeries[]): void {
    for (const r of result) {
      const s = this.get(r.metric);
      for (const [t, v] of r.values) {
        s.points.set(t, Number(v));
        this.times.add(t);
      }
    }
  }

  /** One tick; also marks `t` as a time with data so that gaps show as gaps. */
  addTick(t: number, data: TickPoint[]): void {
    this.times.add(t);
    for (const p of data) this.get(p.metric).points.set(t, Number(p.value));
  }

  /** Drops points before `from`, and series left with none. */
  trim(from: number): void {
    for (const t of this.times) if (t < from) this.times.delete(t);
    for (const [k, s] of this.series) {
      for (const t of s.points.keys()) if (t < from) s.points.delete(t);
      if (s.points.size === 0) {
        this.series.delete(k);
        this.layoutVersion++;
      }
    }
  }

  sortedTimes(): number[] {
    return [...this.times].sort((a, b) => a - b);
  }

  /**
   * The runs of `step`-grid times between the first and the last time held that have no
   * data, as `[from, to]` (both missing): where the graph shows a hole.
   */
  gaps(step: number): [number, number][] {
    const xs = this.sortedTimes();
    const out: [number, number][] = [];
    for (let i = 1; i < xs.length; i++) {
      if (xs[i] - xs[i - 1] > step) out.push([xs[i - 1] + step, xs[i] - step]);
    }
    return out;
  }

  /** Series in a stable order (by label set). */
  ordered(): StoredSeries[] {
    return [...this.series.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Aligned columns for a chart: times, then per series its value or null. */
  aligned(): { xs: number[]; ys: (number | null)[][]; series: StoredSeries[] } {
    const xs = this.sortedTimes();
    const series = this.ordered();
    const ys = series.map((s) => xs.map((t) => s.points.get(t) ?? null));
    return { xs, ys, series };
  }
}
