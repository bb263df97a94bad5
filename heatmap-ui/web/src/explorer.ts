// The query explorer: a PromQL box, graph and table views, a range picker and a live
// toggle. Errors are the API's own text, shown under the box.

import { queryInstant, queryRange } from './api';
import { backfillFor } from './backfill';
import { RANGES } from './dashboard';
import { formatMetric, gridFor, parseDuration, stepFor } from './format';
import { LiveStream } from './live';
import { Chart } from './panels/chart';
import { SeriesWindow } from './series';

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
        <label>Range <select class="range"></select></label>
        <label><input type="checkbox" class="live"> Live</label>
        <span class="warnings"></span>
      </div>
      <div class="graph"></div>
      <div class="table" hidden></div>
    </div>`;
  const expr = app.querySelector<HTMLTextAreaElement>('.expr')!;
  const errEl = app.querySelector<HTMLElement>('.query-error')!;
  const rangeSel = app.querySelector<HTMLSelectElement>('select.range')!;
  const liveBox = app.querySelector<HTMLInputElement>('input.live')!;
  const graphEl = app.querySelector<HTMLElement>('.graph')!;
  const tableEl = app.querySelector<HTMLElement>('.table')!;
  const warnEl = app.querySelector<HTMLElement>('.warnings')!;
  for (const r of RANGES) rangeSel.add(new Option(r, r, false, r === (params.get('range') ?? '15m')));
  expr.value = params.get('q') ?? '';
  let mode: 'graph' | 'table' = 'graph';
  let win = new SeriesWindow();
  let chart: Chart | null = null;
  let live: LiveStream | null = null;
  /** The newest step the graph's range query holds. */
  let lastLoaded: number | undefined;

  const showError = (msg: string | null) => {
    errEl.hidden = msg === null;
    errEl.textContent = msg ?? '';
  };
  const range = () => parseDuration(rangeSel.value) ?? 900;

  const stopLive = () => {
    live?.close();
    live = null;
  };

  const runGraph = async () => {
    const g = gridFor(range(), Date.now() / 1000);
    const r = await queryRange(expr.value, g.start, g.end, g.step);
    chart?.destroy();
    win = new SeriesWindow();
    graphEl.textContent = '';
    if (!r.ok) return showError(r.error);
    showError(null);
    warnEl.textContent = (r.warnings ?? []).join('; ');
    win.addRange(r.data);
    lastLoaded = g.end;
    graphEl.dataset.range = String(range());
    chart = new Chart(graphEl, win, '', undefined, 360);
    chart.render();
  };

  const runTable = async () => {
    const r = await queryInstant(expr.value);
    tableEl.textContent = '';
    if (!r.ok) return showError(r.error);
    showError(null);
    const table = document.createElement('table');
    for (const s of r.data) {
      const tr = table.insertRow();
      tr.insertCell().textContent = formatMetric(s.metric);
      tr.insertCell().textContent = s.value[1];
    }
    if (r.data.length === 0) table.insertRow().insertCell().textContent = 'Empty query result';
    tableEl.append(table);
  };

  const run = async () => {
    stopLive();
    const hash = `#/?q=${encodeURIComponent(expr.value)}&range=${rangeSel.value}`;
    if (location.hash !== hash) history.replaceState(null, '', hash);
    if (!expr.value.trim()) return;
    await (mode === 'graph' ? runGraph() : runTable());
    if (liveBox.checked && mode === 'graph' && errEl.hidden) {
      live = new LiveStream([expr.value], {
        onTick: (ev) => {
          const r = ev.results[0];
          if (!r) return;
          if (r.error) return showError(r.error);
          showError(null);
          win.addTick(ev.t, r.data ?? []);
          win.trim(ev.t - range());
          chart?.render();
          graphEl.dataset.lastTick = String(ev.t);
        },
        onResume: async (lastT) => {
          const plan = backfillFor(lastT, Date.now() / 1000, range());
          if (plan.kind === 'reload') return void run();
          if (plan.kind !== 'fill') return;
          const r = await queryRange(expr.value, plan.from, plan.to, plan.step);
          if (!r.ok) return showError(r.error);
          win.addRange(r.data);
          chart?.render();
        },
      }, stepFor(range()), lastLoaded);
    }
  };

  app.querySelector('.run')!.addEventListener('click', () => void run());
  expr.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      void run();
    }
  });
  rangeSel.addEventListener('change', () => void run());
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
