// A uPlot time-series chart over a SeriesWindow. The chart is built once per set of
// series (its layout); ticks only hand it new data. Optionally its x axis spans a given
// range rather than the data's, and a drag over it selects a span of time (zoom).

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatValue, legendFor } from '../format';
import type { SeriesWindow } from '../series';

export interface ChartOptions {
  /** The x axis's span in seconds, asked at every redraw; the data's span when absent. */
  xRange?: () => [number, number];
  /** Makes a drag along the plot select a span of time, handed over in seconds. */
  onZoom?: (from: number, to: number) => void;
}

/** A drag narrower than this (CSS pixels) is a click, not a zoom. */
const MIN_DRAG = 5;

const PALETTE = ['#7eb26d', '#eab839', '#6ed0e0', '#ef843c', '#e24d42', '#1f78c1', '#ba43a9', '#705da0', '#508642', '#cca300'];

export class Chart {
  private plot: uPlot | null = null;
  private builtFor = -1;
  private readonly resizeObs: ResizeObserver;

  constructor(
    private readonly el: HTMLElement,
    private readonly win: SeriesWindow,
    private readonly unit: string,
    private readonly legend: string | undefined,
    private readonly height = 220,
    private readonly opts: ChartOptions = {},
  ) {
    this.resizeObs = new ResizeObserver(() => this.plot?.setSize({ width: this.width(), height: this.height }));
    this.resizeObs.observe(el);
  }

  private width(): number {
    return Math.max(200, this.el.clientWidth || 600);
  }

  /** Draws the window's current data: a new chart when the series changed, else new data. */
  render(): void {
    const { xs, ys, series } = this.win.aligned();
    const data = [xs, ...ys] as uPlot.AlignedData;
    if (this.plot && this.builtFor === this.win.layoutVersion) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.el.textContent = '';
    const unit = this.unit;
    const { xRange, onZoom } = this.opts;
    this.plot = new uPlot(
      {
        width: this.width(),
        height: this.height,
        legend: { show: true, live: true },
        cursor: { drag: { x: onZoom !== undefined, y: false, setScale: false, dist: MIN_DRAG } },
        scales: { x: { time: true, ...(xRange ? { range: (): uPlot.Range.MinMax => xRange() } : {}) } },
        hooks: {
          setSelect: onZoom
            ? [
                (u: uPlot) => {
                  const { left, width } = u.select;
                  if (width < MIN_DRAG) return;
                  const from = u.posToVal(left, 'x');
                  const to = u.posToVal(left + width, 'x');
                  u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
                  onZoom(from, to);
                },
              ]
            : [],
          // The x axis's span, for a reader of the page (and its tests).
          setScale: [
            (u: uPlot, key: string) => {
              if (key !== 'x') return;
              this.el.dataset.xMin = String(u.scales.x.min);
              this.el.dataset.xMax = String(u.scales.x.max);
            },
          ],
        },
        axes: [
          { stroke: '#aaa', grid: { stroke: '#333' } },
          { stroke: '#aaa', grid: { stroke: '#333' }, size: 70, values: (_u, vals) => vals.map((v) => formatValue(v, unit)) },
        ],
        series: [
          {},
          ...series.map((s, i) => ({
            label: legendFor(s.metric, this.legend),
            stroke: PALETTE[i % PALETTE.length],
            width: 1.5,
            spanGaps: false,
            value: (_u: uPlot, v: number | null) => formatValue(v, unit),
          })),
        ],
      },
      data,
      this.el,
    );
    this.builtFor = this.win.layoutVersion;
    this.el.dataset.series = String(series.length);
  }

  destroy(): void {
    this.resizeObs.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }
}
