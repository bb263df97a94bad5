// Entity heatmap: one canvas cell per series (pod, node, container), coloured by its
// newest value. The layout (which cell sits where) is computed from the set of entities
// seen across all tabs and kept while tabs switch or ticks arrive; while live it changes
// only when a new entity appears, so that cells do not jump about. A tick recolours the
// cells, nothing else. A load of the view (range change, reload) lays the cells out from
// its own data alone, which drops the entities that have gone since; a change of the
// panel's width places the same cells again for the new width.

import { queryInstant, type PanelDef } from '../api';
import { colourAt, colourIndex, EMPTY, ramp } from '../colour';
import { compareEntities, groupOf } from '../entity-order';
import { entityKey, formatMetric, formatValue } from '../format';
import type { TickPoint, TickResult } from '../live';
import { placeCells, type Layout } from './entity-layout';
import { BasePanel, type View } from './panel';
import { Tooltip } from './tooltip';

const MAX_HEIGHT = 260;

interface Entity {
  key: string;
  metric: Record<string, string>;
}


export class EntityPanel extends BasePanel {
  private readonly canvas: HTMLCanvasElement;
  private readonly tip: Tooltip;
  private readonly tabsEl: HTMLElement;
  private readonly legendEl: HTMLElement;
  private readonly tabs: { name: string; expr: string; unit?: string }[];
  private active = 0;
  /** Entities in layout order; their index is their cell. */
  private entities: Entity[] = [];
  private index = new Map<string, number>();
  private layout: Layout | null = null;
  /** Newest value per tab per cell (NaN: no value). */
  private values: Float64Array[] = [];
  private readonly resizeObs: ResizeObserver;

  constructor(def: PanelDef) {
    super(def);
    this.tabs = def.tabs ?? [];
    this.tabsEl = document.createElement('div');
    this.tabsEl.className = 'tabs';
    this.tabs.forEach((t, i) => {
      const b = document.createElement('button');
      b.textContent = t.name;
      b.dataset.tab = String(i);
      b.addEventListener('click', () => this.switchTab(i));
      this.tabsEl.append(b);
    });
    this.canvas = document.createElement('canvas');
    this.legendEl = document.createElement('div');
    this.legendEl.className = 'colour-legend';
    this.frame.body.style.position = 'relative';
    this.frame.body.append(this.tabsEl, this.canvas, this.legendEl);
    this.tip = new Tooltip(this.frame.body);
    // Only a new width moves cells; the height the layout itself sets is not a cue.
    this.resizeObs = new ResizeObserver(() => {
      if (this.layout && this.bodyWidth() !== this.layout.width) {
        this.place();
        this.draw();
      }
    });
    this.resizeObs.observe(this.frame.body);
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => this.tip.hide());
    this.values = this.tabs.map(() => new Float64Array(0));
    this.markTab();
  }

  queries(): string[] {
    return this.tabs.map((t) => t.expr);
  }

  async load(view: View): Promise<void> {
    const results = await Promise.all(this.tabs.map((t) => queryInstant(t.expr, view.end)));
    this.forget();
    const tick: TickResult[] = results.map((r) =>
      r.ok ? { data: r.data.map((s) => ({ metric: s.metric, value: s.value[1] })) } : { error: r.error },
    );
    this.tick(view.end, tick);
  }

  tick(t: number, results: TickResult[]): void {
    // Measured (performance.measure "entity-tick"): what a tick costs the page.
    const started = performance.now();
    const err = results[this.active]?.error ?? null;
    this.frame.error(err);
    let grew = false;
    // Each point's key once per tick: admitting new entities and filling values share it.
    const keys = results.map((r) => (r.data ?? []).map((p) => entityKey(p.metric)));
    results.forEach((r, tab) => {
      (r.data ?? []).forEach((p, i) => (grew = this.admit(keys[tab][i], p.metric) || grew));
    });
    if (grew || !this.layout) this.relayout();
    results.forEach((r, tab) => {
      if (r.error) return;
      this.fill(tab, r.data ?? [], keys[tab]);
    });
    this.draw();
    this.root.dataset.lastTick = String(t);
    performance.measure('entity-tick', { start: started, detail: { cells: this.entities.length } });
  }

  destroy(): void {
    this.resizeObs.disconnect();
  }

  /** Drops every entity and its values: the next tick lays out what it holds. */
  private forget(): void {
    this.entities = [];
    this.entitiesBefore = [];
    this.index = new Map();
    this.layout = null;
    this.values = this.tabs.map(() => new Float64Array(0));
  }

  private bodyWidth(): number {
    return Math.max(200, this.frame.body.clientWidth || 600);
  }

  private switchTab(i: number): void {
    this.active = i;
    this.markTab();
    this.draw();
  }

  private markTab(): void {
    for (const b of this.tabsEl.querySelectorAll('button')) b.classList.toggle('active', b.dataset.tab === String(this.active));
    this.root.dataset.tab = String(this.active);
  }

  /** Adds an entity not seen before; true if the layout must change. */
  private admit(key: string, metric: Record<string, string>): boolean {
    if (this.index.has(key)) return false;
    const m = { ...metric };
    delete m.__name__;
    this.index.set(key, -1);
    this.entities.push({ key, metric: m });
    return true;
  }

  private groupOf(e: Entity): string {
    return groupOf(e, this.def.group_by);
  }

  /** Orders the entities (group, then sort label, then label set) and places the cells. */
  private relayout(): void {
    this.entities.sort(compareEntities(this.def.group_by, this.def.sort_by));
    const old = this.values.map((vals) => new Map(this.entitiesBefore.map((k, i) => [k, vals[i]])));
    this.index = new Map(this.entities.map((e, i) => [e.key, i]));
    this.entitiesBefore = this.entities.map((e) => e.key);
    this.values = old.map((prev) => Float64Array.from(this.entities, (e) => prev.get(e.key) ?? NaN));
    this.place();
  }

  /** Places the cells, in their order, for the panel's width. */
  private place(): void {
    const width = this.bodyWidth();
    const groups = this.entities.map((e) => this.groupOf(e));
    const l = placeCells(groups, width, this.def.group_by, MAX_HEIGHT);
    this.layout = l;
    this.canvas.width = width;
    this.canvas.height = l.height;
    this.root.dataset.cells = String(this.entities.length);
    this.root.dataset.cellSize = String(l.size);
    this.root.dataset.groups = String(l.groups.length);
    this.root.dataset.layouts = String(Number(this.root.dataset.layouts ?? 0) + 1);
  }

  private entitiesBefore: string[] = [];

  /** Tab `tab`'s values from a tick's points, `keys[i]` being point `i`'s entity. */
  private fill(tab: number, data: TickPoint[], keys: string[]): void {
    const vals = this.values[tab];
    vals.fill(NaN);
    for (let k = 0; k < data.length; k++) {
      const i = this.index.get(keys[k]);
      if (i !== undefined && i >= 0) vals[i] = Number(data[k].value);
    }
  }

  private draw(): void {
    const l = this.layout;
    const ctx = this.canvas.getContext('2d');
    if (!l || !ctx) return;
    const vals = this.values[this.active] ?? new Float64Array(0);
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    let valued = 0;
    for (const v of vals) {
      if (!Number.isFinite(v)) continue;
      valued++;
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    const s = Math.max(1, l.size - 1);
    // Cells grouped by colour, so that the fill style (a string the canvas parses) is set
    // once per colour rather than once per cell: with 10,000 cells that is most of a draw.
    const n = this.entities.length;
    const byColour = new Int32Array(n);
    const counts = new Int32Array(258);
    for (let i = 0; i < n; i++) {
      byColour[i] = colourIndex(vals[i], min, max) + 1;
      counts[byColour[i] + 1]++;
    }
    for (let c = 1; c < counts.length; c++) counts[c] += counts[c - 1];
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[counts[byColour[i]]++] = i;
    let k = 0;
    while (k < n) {
      const c = byColour[order[k]];
      ctx.fillStyle = c === 0 ? EMPTY : colourAt(c - 1);
      for (; k < n && byColour[order[k]] === c; k++) ctx.fillRect(l.x[order[k]], l.y[order[k]], s, s);
    }
    ctx.fillStyle = '#aaa';
    ctx.font = '11px sans-serif';
    ctx.textBaseline = 'top';
    for (const g of l.groups) ctx.fillText(g.name, 0, g.y + 1);
    const unit = this.tabs[this.active]?.unit;
    // Read by tests: a digest of what is shown, changing when any value does, and how
    // many cells have a value to colour.
    this.root.dataset.valueSum = String(sum);
    this.root.dataset.valued = String(valued);
    if (Number.isFinite(min)) {
      this.legendEl.textContent = '';
      const bar = document.createElement('span');
      bar.className = 'ramp';
      bar.style.background = `linear-gradient(to right, ${ramp(8).join(',')})`;
      this.legendEl.append(`${formatValue(min, unit)} `, bar, ` ${formatValue(max, unit)}`);
    }
  }

  private hover(e: MouseEvent): void {
    const l = this.layout;
    if (!l) return;
    const rect = this.canvas.getBoundingClientRect();
    const x = (e.clientX - rect.left) * (this.canvas.width / rect.width);
    const y = (e.clientY - rect.top) * (this.canvas.height / rect.height);
    for (let i = 0; i < this.entities.length; i++) {
      if (x >= l.x[i] && x < l.x[i] + l.size && y >= l.y[i] && y < l.y[i] + l.size) {
        const v = this.values[this.active]?.[i];
        this.tip.show(e.clientX - rect.left, e.clientY - rect.top, [
          formatMetric(this.entities[i].metric),
          `${this.tabs[this.active]?.name}: ${formatValue(Number.isNaN(v) ? null : v, this.tabs[this.active]?.unit)}`,
        ]);
        return;
      }
    }
    this.tip.hide();
  }
}
