// The query explorer: a PromQL box, graph and table views, the time controls (range and
// end, see `time-controls.ts`) and a live toggle. The graph's x axis spans exactly the
// chosen range, and a drag over it zooms to the dragged span. Live follows "now" only:
// turning it on returns the end to now, and zooming or setting an end turns it off. The
// table evaluates at the chosen end. Errors are the API's own text, shown under the box.

import { queryAt, queryRange } from './api';
import { backfillFor } from './backfill';
import { stepFor } from './format';
import { LiveStream } from './live';
import { Chart } from './panels/chart';
import { SeriesWindow } from './series';
import { renderTable } from './table-view';
import { TimeControls } from './time-controls';
import { choiceFromParams, choiceParams, windowFor, zoomTo, type TimeChoice } from './timerange';

export function renderExplorer(app: HTMLElement): () => void {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  app.innerHTML = `
    <div class="explorer">
      <div class="query-row">
        <textarea class="expr" rows="2" spellcheck="false" placeholder="PromQL, e.g. rate(tianshu_http_requests_total[1m])"></textarea>
        <button class="run">Execute</button>
      </div>
      <div class="error query-error" hidden></div>
      <div class="toolbar">
        <span class="tabs"><button data-view="graph" class="active">Graph</button><button data-view="table">Table</button></span>
        <label><input type="checkbox" class="live"> Live</label>
        <span class="warnings"></span>
      </div>
      <div class="graph"></div>
      <div class="table" hidden></div>
    </div>`;
  const root = app.querySelector<HTMLElement>('.explorer')!;
  const expr = app.querySelector<HTMLTextAreaElement>('.expr')!;
  const errEl = app.querySelector<HTMLElement>('.query-error')!;
  const liveBox = app.querySelector<HTMLInputElement>('input.live')!;
  const graphEl = app.querySelector<HTMLElement>('.graph')!;
  const tableEl = app.querySelector<HTMLElement>('.table')!;
  const warnEl = app.querySelector<HTMLElement>('.warnings')!;
  expr.value = params.get('q') ?? '';
  let mode: 'graph' | 'table' = 'graph';
  let win = new SeriesWindow();
  let chart: Chart | null = null;
  let live: LiveStream | null = null;
  /** The x axis's span: the chosen window, sliding with the ticks while live. */
  let axis: [number, number] = [0, 0];
  /** Runs started; only the newest one marks the view loaded. */
  let runs = 0;

  const showError = (msg: string | null) => {
    errEl.hidden = msg === null;
    errEl.textContent = msg ?? '';
  };

  /** A choice made in the page (a zoom, an end time) rather than following now. */
  const fixEnd = (c: TimeChoice) => {
    liveBox.checked = false;
    time.set(c);
    void run();
  };
  const time = new TimeControls(choiceFromParams(params), (c) => (c.end !== null ? fixEnd(c) : void run()));
  app.querySelector('.explorer .tabs')!.after(time.root);

  const stopLive = () => {
    live?.close();
    live = null;
  };

  /** Draws the graph of run `mine`, unless a newer run started meanwhile. */
  const runGraph = async (mine: number) => {
    const c = time.choice;
    const w = windowFor(c, Date.now() / 1000);
    const r = await queryRange(expr.value, w.start, w.end, w.step);
    if (mine !== runs) return;
    chart?.destroy();
    chart = null;
    win = new SeriesWindow();
    graphEl.textContent = '';
    if (!r.ok) return showError(r.error);
    showError(null);
    warnEl.textContent = (r.warnings ?? []).join('; ');
    win.addRange(r.data);
    axis = [w.from, w.to];
    graphEl.dataset.range = String(c.range);
    chart = new Chart(graphEl, win, '', undefined, 360, {
      xRange: () => axis,
      onZoom: (from, to) => fixEnd(zoomTo(from, to)),
    });
    chart.render();
  };

  /** The table of run `mine` at the chosen end, unless a newer run started meanwhile. */
  const runTable = async (mine: number) => {
    const at = time.choice.end ?? Math.floor(Date.now() / 1000);
    const r = await queryAt(expr.value, at);
    if (mine !== runs) return;
    tableEl.textContent = '';
    if (!r.ok) return showError(r.error);
    showError(null);
    warnEl.textContent = (r.warnings ?? []).join('; ');
    renderTable(tableEl, r.data, at);
  };

  /** Live after a graph that holds the steps up to `loadedUpTo`. */
  const startLive = (loadedUpTo: number) => {
    const range = time.choice.range;
    const step = stepFor(range);
    live = new LiveStream(
      [expr.value],
      {
        onTick: (ev) => {
          const r = ev.results[0];
          if (!r) return;
          if (r.error) return showError(r.error);
          showError(null);
          win.addTick(ev.t, r.data ?? []);
          win.trim(ev.t - range);
          axis = [ev.t - range, ev.t];
          chart?.render();
          graphEl.dataset.lastTick = String(ev.t);
        },
        onResume: async (lastT) => {
          const plan = backfillFor(lastT, Date.now() / 1000, range);
          if (plan.kind === 'reload') return void run();
          if (plan.kind !== 'fill') return;
          const r = await queryRange(expr.value, plan.from, plan.to, plan.step);
          if (!r.ok) return showError(r.error);
          win.addRange(r.data);
          chart?.render();
        },
      },
      step,
      loadedUpTo,
    );
  };

  const run = async () => {
    const mine = ++runs;
    root.dataset.loaded = 'false';
    stopLive();
    // Live follows now: an end set earlier gives way when it is turned on.
    if (liveBox.checked && time.choice.end !== null) time.set({ ...time.choice, end: null });
    const hash = `#/?q=${encodeURIComponent(expr.value)}&${choiceParams(time.choice)}`;
    if (location.hash !== hash) history.replaceState(null, '', hash);
    if (expr.value.trim()) {
      await (mode === 'graph' ? runGraph(mine) : runTable(mine));
      if (mine !== runs) return;
      if (liveBox.checked && mode === 'graph' && errEl.hidden) startLive(axis[1]);
    }
    // `.explorer[data-loaded]`: the newest run has drawn what it asked for.
    root.dataset.loaded = 'true';
  };

  app.querySelector('.run')!.addEventListener('click', () => void run());
  expr.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      void run();
    }
  });
  liveBox.addEventListener('change', () => void run());
  for (const b of app.querySelectorAll<HTMLButtonElement>('.tabs button')) {
    b.addEventListener('click', () => {
      mode = b.dataset.view as 'graph' | 'table';
      for (const o of app.querySelectorAll('.tabs button')) o.classList.toggle('active', o === b);
      graphEl.hidden = mode !== 'graph';
      tableEl.hidden = mode !== 'table';
      void run();
    });
  }
  if (expr.value) void run();
  return () => {
    stopLive();
    chart?.destroy();
  };
}
