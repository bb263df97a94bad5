// Stat panel: the newest value of the query's first series, large.

import { queryInstant, type PanelDef } from '../api';
import { formatValue } from '../format';
import type { TickResult } from '../live';
import { Frame, type PanelView, type View } from './panel';

export class StatPanel implements PanelView {
  private readonly frame: Frame;
  private readonly valueEl: HTMLElement;

  constructor(private readonly def: PanelDef) {
    this.frame = new Frame(def);
    this.valueEl = document.createElement('div');
    this.valueEl.className = 'stat-value';
    this.valueEl.textContent = '–';
    this.frame.body.append(this.valueEl);
  }

  get root(): HTMLElement {
    return this.frame.root;
  }

  queries(): string[] {
    return [this.def.expr ?? ''];
  }

  async load(view: View): Promise<void> {
    const r = await queryInstant(this.def.expr ?? '', view.end);
    if (!r.ok) {
      this.frame.error(r.error);
      return;
    }
    this.frame.error(null);
    this.show(r.data[0] ? Number(r.data[0].value[1]) : null);
  }

  async backfill(): Promise<void> {
    // Only the newest value is shown: the next tick brings it.
  }

  tick(t: number, results: TickResult[]): void {
    const r = results[0];
    if (!r) return;
    if (r.error) {
      this.frame.error(r.error);
      return;
    }
    this.frame.error(null);
    const first = r.data?.[0];
    this.show(first ? Number(first.value) : null);
    this.root.dataset.lastTick = String(t);
  }

  private show(v: number | null): void {
    const text = formatValue(v, this.def.unit);
    if (this.valueEl.textContent !== text) this.valueEl.textContent = text;
    this.root.dataset.value = v === null ? '' : String(v);
  }

  destroy(): void {}
}
