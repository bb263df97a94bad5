// Stat panel: the newest value of the query's first series, large.

import { queryInstant, type PanelDef } from '../api';
import { formatValue } from '../format';
import type { TickResult } from '../live';
import { BasePanel, type View } from './panel';

export class StatPanel extends BasePanel {
  private readonly valueEl: HTMLElement;

  constructor(def: PanelDef) {
    super(def);
    this.valueEl = document.createElement('div');
    this.valueEl.className = 'stat-value';
    this.valueEl.textContent = '–';
    this.frame.body.append(this.valueEl);
  }

  async load(view: View): Promise<void> {
    const data = this.settle(await queryInstant(this.expr, view.end));
    if (data) this.show(data[0] ? Number(data[0].value[1]) : null);
  }

  tick(t: number, results: TickResult[]): void {
    const data = this.tickData(t, results);
    if (data) this.show(data[0] ? Number(data[0].value) : null);
  }

  private show(v: number | null): void {
    const text = formatValue(v, this.def.unit);
    if (this.valueEl.textContent !== text) this.valueEl.textContent = text;
    this.root.dataset.value = v === null ? '' : String(v);
  }
}
