// Time series panel: lines over the dashboard's range, appended to every tick.

import { queryRange, type PanelDef } from '../api';
import type { TickResult } from '../live';
import { SeriesWindow } from '../series';
import { Chart } from './chart';
import { Frame, type PanelView, type View } from './panel';

export class TimeseriesPanel implements PanelView {
  private readonly frame: Frame;
  private readonly win = new SeriesWindow();
  private readonly chart: Chart;
  private range = 300;

  constructor(private readonly def: PanelDef) {
    this.frame = new Frame(def);
    this.chart = new Chart(this.frame.body, this.win, def.unit ?? '', def.legend);
  }

  get root(): HTMLElement {
    return this.frame.root;
  }

  queries(): string[] {
    return [this.def.expr ?? ''];
  }

  async load(view: View): Promise<void> {
    this.range = view.range;
    const r = await queryRange(this.def.expr ?? '', view.start, view.end, view.step);
    this.win.clear();
    if (!r.ok) {
      this.frame.error(r.error);
      return;
    }
    this.frame.error(null);
    this.win.addRange(r.data);
    this.chart.render();
  }

  async backfill(from: number, to: number, step: number): Promise<void> {
    const r = await queryRange(this.def.expr ?? '', from, to, step);
    if (!r.ok) {
      this.frame.error(r.error);
      return;
    }
    const before = this.win.sortedTimes().length;
    this.win.addRange(r.data);
    // How many steps the gap held: what a reader (and the end-to-end test) checks.
    const added = this.win.sortedTimes().length - before;
    this.root.dataset.backfilled = String(Number(this.root.dataset.backfilled ?? 0) + added);
    this.chart.render();
  }

  tick(t: number, results: TickResult[]): void {
    const r = results[0];
    if (!r) return;
    if (r.error) {
      this.frame.error(r.error);
      return;
    }
    this.frame.error(null);
    this.win.addTick(t, r.data ?? []);
    this.win.trim(t - this.range);
    this.chart.render();
    this.root.dataset.lastTick = String(t);
  }

  destroy(): void {
    this.chart.destroy();
  }
}
