// Histogram heatmap: classic `le` buckets over time. The query yields cumulative bucket
// series (one per `le`); each time column is de-accumulated so that a cell is what fell
// into (lower, upper] at that time, coloured on a square-root scale so that the tail
// stays visible next to the mode. The canvas is redrawn on a tick; no DOM node per cell.

import { queryRange, type PanelDef } from '../api';
import { deaccumulateColumns } from '../buckets';
import { colourFor, ramp } from '../colour';
import { formatTime, formatValue } from '../format';
import type { TickResult } from '../live';
import { SeriesWindow } from '../series';
import { BasePanel, type View } from './panel';
import { Tooltip } from './tooltip';

const HEIGHT = 220;
const LEFT = 64;
const BOTTOM = 18;

export class HistogramPanel extends BasePanel {
  private readonly win = new SeriesWindow();
  private readonly canvas: HTMLCanvasElement;
  private readonly tip: Tooltip;
  private readonly legendEl: HTMLElement;
  private range = 300;
  /** What was drawn, for hover: times, rows and cells of the last render. */
  private drawn: {
    xs: number[];
    rows: { lower: number; upper: number; le: string }[];
    cells: (number | null)[][];
  } = { xs: [], rows: [], cells: [] };

  constructor(def: PanelDef) {
    super(def);
    this.canvas = document.createElement('canvas');
    this.canvas.height = HEIGHT;
    this.frame.body.append(this.canvas);
    this.frame.body.style.position = 'relative';
    this.legendEl = document.createElement('div');
    this.legendEl.className = 'colour-legend';
    this.frame.body.append(this.legendEl);
    this.tip = new Tooltip(this.frame.body);
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => this.tip.hide());
  }

  async load(view: View): Promise<void> {
    this.range = view.range;
    const r = await queryRange(this.expr, view.start, view.end, view.step);
    this.win.clear();
    const data = this.settle(r);
    if (data) this.win.addRange(data);
    this.render();
  }

  async backfill(from: number, to: number, step: number): Promise<void> {
    const data = this.settle(await queryRange(this.expr, from, to, step));
    if (!data) return;
    this.win.addRange(data);
    this.render();
  }

  tick(t: number, results: TickResult[]): void {
    const data = this.tickData(t, results);
    if (!data) return;
    this.win.addTick(t, data);
    this.win.trim(t - this.range);
    this.render();
  }

  private render(): void {
    const xs = this.win.sortedTimes();
    const byLe = new Map<string, (number | null)[]>();
    for (const s of this.win.series.values()) {
      const le = s.metric.le;
      if (le === undefined) continue;
      byLe.set(le, xs.map((t) => s.points.get(t) ?? null));
    }
    const { rows, cells } = deaccumulateColumns(byLe, xs.length);
    this.drawn = { xs, rows, cells };
    this.root.dataset.rows = String(rows.length);
    this.root.dataset.columns = String(xs.length);

    const width = Math.max(200, this.frame.body.clientWidth || 600);
    if (this.canvas.width !== width) this.canvas.width = width;
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.fillStyle = '#181b1f';
    ctx.fillRect(0, 0, width, HEIGHT);
    if (rows.length === 0 || xs.length === 0) {
      ctx.fillStyle = '#888';
      ctx.fillText(byLe.size === 0 && this.win.series.size > 0 ? 'no le label in the result' : 'no data', LEFT, HEIGHT / 2);
      return;
    }
    let max = 0;
    for (const col of cells) for (const v of col) if (v !== null && v > max) max = v;
    const plotW = width - LEFT;
    const plotH = HEIGHT - BOTTOM;
    const cw = plotW / xs.length;
    const rh = plotH / rows.length;
    const sqrtMax = Math.sqrt(max);
    for (let c = 0; c < xs.length; c++) {
      for (let r = 0; r < rows.length; r++) {
        const v = cells[c][r];
        ctx.fillStyle = colourFor(v === null ? null : Math.sqrt(v), 0, sqrtMax);
        // Row 0 (smallest bucket) at the bottom, as latency heatmaps read.
        ctx.fillRect(LEFT + c * cw, plotH - (r + 1) * rh, Math.ceil(cw), Math.ceil(rh) - 1);
      }
    }
    ctx.fillStyle = '#aaa';
    ctx.font = '10px sans-serif';
    ctx.textBaseline = 'middle';
    const every = Math.max(1, Math.ceil(12 / rh));
    for (let r = 0; r < rows.length; r += every) {
      ctx.fillText(formatValue(rows[r].upper, this.def.unit), 2, plotH - (r + 0.5) * rh);
    }
    ctx.textBaseline = 'alphabetic';
    ctx.fillText(formatTime(xs[0]), LEFT, HEIGHT - 4);
    const lastLabel = formatTime(xs[xs.length - 1]);
    ctx.fillText(lastLabel, width - ctx.measureText(lastLabel).width - 2, HEIGHT - 4);
    this.legendEl.textContent = '';
    const bar = document.createElement('span');
    bar.className = 'ramp';
    bar.style.background = `linear-gradient(to right, ${ramp(8).join(',')})`;
    this.legendEl.append('0 ', bar, ` ${formatValue(max)}/s per bucket`);
  }

  private hover(e: MouseEvent): void {
    const { xs, rows, cells } = this.drawn;
    const rect = this.canvas.getBoundingClientRect();
    const x = e.clientX - rect.left - LEFT;
    const y = e.clientY - rect.top;
    const plotH = HEIGHT - BOTTOM;
    if (x < 0 || y > plotH || xs.length === 0 || rows.length === 0) {
      this.tip.hide();
      return;
    }
    const c = Math.min(xs.length - 1, Math.floor((x / (rect.width - LEFT)) * xs.length));
    const r = Math.min(rows.length - 1, Math.floor(((plotH - y) / plotH) * rows.length));
    const row = rows[r];
    const unit = this.def.unit;
    this.tip.show(e.clientX - rect.left, y, [
      formatTime(xs[c]),
      `(${formatValue(row.lower, unit)}, ${formatValue(row.upper, unit)}]`,
      `${formatValue(cells[c][r])}/s`,
    ]);
  }
}
