// Time series panel: lines over the dashboard's range, appended to every tick. The x
// axis spans the whole range (up to the newest step), as Grafana's panels do, not just
// the data: a series that began a minute ago starts a minute from the right edge.

import { queryRange, type PanelDef } from '../api';
import type { TickResult } from '../live';
import { SeriesWindow } from '../series';
import { Chart } from './chart';
import { BasePanel, type View } from './panel';

export class TimeseriesPanel extends BasePanel {
  private readonly win = new SeriesWindow();
  private readonly chart: Chart;
  private range = 300;
  private step = 1;
  /** The newest step shown: the view's end, then each tick's. */
  private end = 0;

  constructor(def: PanelDef) {
    super(def);
    this.chart = new Chart(this.frame.body, this.win, def.unit ?? '', def.legend, undefined, {
      xRange: () => [this.end - this.range, this.end],
    });
  }

  async load(view: View): Promise<void> {
    this.range = view.range;
    this.step = view.step;
    this.end = view.end;
    const r = await queryRange(this.expr, view.start, view.end, view.step);
    this.win.clear();
    const data = this.settle(r);
    if (!data) return;
    this.win.addRange(data);
    this.render();
  }

  async backfill(from: number, to: number, step: number): Promise<void> {
    const data = this.settle(await queryRange(this.expr, from, to, step));
    if (!data) return;
    const before = this.win.sortedTimes().length;
    this.win.addRange(data);
    // How many steps the gap held: what a reader (and the end-to-end test) checks.
    const added = this.win.sortedTimes().length - before;
    this.root.dataset.backfilled = String(Number(this.root.dataset.backfilled ?? 0) + added);
    this.render();
  }

  tick(t: number, results: TickResult[]): void {
    const data = this.tickData(t, results);
    if (!data) return;
    this.end = Math.max(this.end, t);
    this.win.addTick(t, data);
    this.win.trim(t - this.range);
    this.render();
  }

  private render(): void {
    this.chart.render();
    // The holes in the line (steps without data since its first point), for a reader of
    // the page (and its tests): after a reconnect's backfill there must be none.
    this.root.dataset.gaps = this.win
      .gaps(this.step)
      .map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`))
      .join(',');
  }

  destroy(): void {
    this.chart.destroy();
  }
}
