// The dashboard views: the list, and one dashboard's grid of panels with its live stream.

import { getDashboard, listDashboards, saveDashboard, type Dashboard, type PanelDef } from './api';
import { parseDuration, stepFor } from './format';
import { LiveStream, setLiveState } from './live';
import { EntityPanel } from './panels/entity';
import { HistogramPanel } from './panels/histogram';
import type { PanelView, View } from './panels/panel';
import { StatPanel } from './panels/stat';
import { TimeseriesPanel } from './panels/timeseries';

export const RANGES = ['1m', '5m', '15m', '30m', '1h', '3h', '12h', '1d'];

export async function renderList(app: HTMLElement): Promise<() => void> {
  app.innerHTML = '<h2>Dashboards</h2><ul class="dash-list"></ul>';
  const ul = app.querySelector('ul')!;
  const r = await listDashboards();
  if (!r.ok) {
    ul.outerHTML = `<div class="error"></div>`;
    app.querySelector('.error')!.textContent = r.error;
    return () => {};
  }
  for (const d of r.data) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = `#/d/${encodeURIComponent(d.id)}`;
    a.textContent = d.title;
    const meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = ` ${d.panels} panels${d.builtin ? ' · built in' : ''}`;
    li.append(a, meta);
    ul.append(li);
  }
  return () => {};
}

function makePanel(def: PanelDef): PanelView {
  switch (def.type) {
    case 'stat':
      return new StatPanel(def);
    case 'histogram_heatmap':
      return new HistogramPanel(def);
    case 'entity_heatmap':
      return new EntityPanel(def);
    default:
      return new TimeseriesPanel(def);
  }
}

/** Renders dashboard `id`; returns what tears it down. */
export async function renderDashboard(app: HTMLElement, id: string): Promise<() => void> {
  const r = await getDashboard(id);
  if (!r.ok) {
    app.innerHTML = '<div class="error"></div>';
    app.querySelector('.error')!.textContent = r.error;
    return () => {};
  }
  let dash: Dashboard = r.data;
  let panels: PanelView[] = [];
  let live: LiveStream | null = null;
  let range = parseDuration(dash.range ?? '15m') ?? 900;

  app.innerHTML = `
    <div class="toolbar">
      <h2></h2>
      <label>Range <select class="range"></select></label>
      <label><input type="checkbox" class="live" checked> Live</label>
      <button class="edit">Edit JSON</button>
    </div>
    <div class="editor" hidden>
      <textarea spellcheck="false"></textarea>
      <div><button class="save">Save</button> <button class="cancel">Cancel</button> <span class="editor-msg"></span></div>
    </div>
    <div class="grid"></div>`;
  const title = app.querySelector('h2')!;
  const grid = app.querySelector<HTMLElement>('.grid')!;
  const rangeSel = app.querySelector<HTMLSelectElement>('select.range')!;
  const liveBox = app.querySelector<HTMLInputElement>('input.live')!;
  const editor = app.querySelector<HTMLElement>('.editor')!;
  const text = editor.querySelector('textarea')!;
  const msg = editor.querySelector<HTMLElement>('.editor-msg')!;
  const options = RANGES.includes(dash.range ?? '') ? RANGES : [dash.range ?? '15m', ...RANGES];
  for (const o of options) rangeSel.add(new Option(o, o, false, o === (dash.range ?? '15m')));

  const view = (): View => {
    const end = Math.floor(Date.now() / 1000);
    return { start: end - range, end, step: stepFor(range), range };
  };

  const stopLive = () => {
    live?.close();
    live = null;
  };

  const startLive = () => {
    stopLive();
    if (!liveBox.checked) return;
    const offsets: number[] = [];
    const queries: string[] = [];
    for (const p of panels) {
      offsets.push(queries.length);
      queries.push(...p.queries());
    }
    if (queries.length === 0) return;
    live = new LiveStream(queries, {
      onTick: (ev) => {
        panels.forEach((p, i) => {
          const n = p.queries().length;
          p.tick(ev.t, ev.results.slice(offsets[i], offsets[i] + n));
        });
      },
      onResume: (lastT) => {
        const end = Math.floor(Date.now() / 1000);
        const step = stepFor(range);
        for (const p of panels) void p.backfill(lastT, end, step);
        document.body.dataset.backfills = String(Number(document.body.dataset.backfills ?? 0) + 1);
      },
    });
  };

  const build = async () => {
    stopLive();
    for (const p of panels) p.destroy();
    title.textContent = dash.title;
    grid.textContent = '';
    panels = dash.panels.map(makePanel);
    for (const p of panels) grid.append(p.root);
    const v = view();
    await Promise.all(panels.map((p) => p.load(v)));
    grid.dataset.loaded = 'true';
    startLive();
  };

  rangeSel.addEventListener('change', () => {
    range = parseDuration(rangeSel.value) ?? range;
    void build();
  });
  liveBox.addEventListener('change', () => (liveBox.checked ? startLive() : stopLive()));
  app.querySelector('.edit')!.addEventListener('click', () => {
    text.value = JSON.stringify(dash, null, 2);
    msg.textContent = '';
    editor.hidden = false;
  });
  editor.querySelector('.cancel')!.addEventListener('click', () => (editor.hidden = true));
  editor.querySelector('.save')!.addEventListener('click', async () => {
    let parsed: Dashboard;
    try {
      parsed = JSON.parse(text.value) as Dashboard;
    } catch (e) {
      msg.textContent = `invalid JSON: ${(e as Error).message}`;
      return;
    }
    const saved = await saveDashboard(parsed);
    if (!saved.ok) {
      msg.textContent = saved.error;
      return;
    }
    dash = saved.data;
    editor.hidden = true;
    await build();
  });

  await build();
  return () => {
    stopLive();
    for (const p of panels) p.destroy();
    setLiveState('off');
  };
}
