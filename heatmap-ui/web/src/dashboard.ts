// The dashboard views: the list, and one dashboard's grid of panels with its live stream.
// "Edit panels" turns the grid into a draft: each panel gets move, resize, edit and remove
// buttons, a grip to drag it to another place and a handle to drag its width (both also
// driven by the arrow keys, see `drag.ts`), panels can be added, and "Save" sends the draft to the server, whose
// validation error (if any) shows on the toolbar and on the panel it names.

import { getDashboard, listDashboards, saveDashboard, type Dashboard, type PanelDef } from './api';
import { moveGrip, resizeHandle, type DragActions } from './drag';
import { addPanel, clone, movePanel, panelOfError, removePanel, replacePanel, resizePanel, widthOf } from './draft';
import { renderPanelEditor } from './editor';
import { gridFor, parseDuration, stepFor } from './format';
import { LiveStream, setLiveState } from './live';
import { EntityPanel } from './panels/entity';
import { HistogramPanel } from './panels/histogram';
import type { PanelView, View } from './panels/panel';
import { StatPanel } from './panels/stat';
import { TimeseriesPanel } from './panels/timeseries';
import { backfillFor } from './backfill';
import { RANGES } from './timerange';

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

/** Why saving is off, on the disabled Save buttons and the toolbar's badge. */
export const READ_ONLY = 'These dashboards are read-only: start Tianshu with --dashboards-dir DIR to save edits (as DIR/<id>.json)';

/** Renders dashboard `id`; returns what tears it down. */
export async function renderDashboard(app: HTMLElement, id: string): Promise<() => void> {
  const r = await getDashboard(id);
  if (!r.ok) {
    app.innerHTML = '<div class="error"></div>';
    app.querySelector('.error')!.textContent = r.error;
    return () => {};
  }
  let dash: Dashboard = r.data;
  // Without --dashboards-dir the server refuses every save: say so before any edit.
  const canSave = r.meta?.canSave !== false;
  /** The dashboard being edited panel by panel; `null` outside edit mode. */
  let draft: Dashboard | null = null;
  const shown = (): Dashboard => draft ?? dash;
  let panels: PanelView[] = [];
  let live: LiveStream | null = null;
  let range = parseDuration(dash.range ?? '15m') ?? 900;
  /** The newest step the panels hold: the view's end, then each tick's. */
  let heldUpTo: number | undefined;

  app.innerHTML = `
    <div class="toolbar">
      <h2></h2>
      <label>Range <select class="range"></select></label>
      <label><input type="checkbox" class="live" checked> Live</label>
      <span class="read-only" hidden>read-only</span>
      <button class="edit-panels">Edit panels</button>
      <button class="edit">Edit JSON</button>
      <span class="edit-tools" hidden>
        <button class="add-panel">Add panel</button>
        <span class="save-wrap"><button class="save-panels">Save</button></span>
        <button class="discard-panels">Discard</button>
      </span>
      <span class="edit-msg"></span>
    </div>
    <div class="panel-edit-area" hidden></div>
    <div class="editor" hidden>
      <textarea spellcheck="false"></textarea>
      <div><span class="save-wrap"><button class="save">Save</button></span> <button class="cancel">Cancel</button> <span class="editor-msg"></span></div>
    </div>
    <div class="grid"></div>`;
  const title = app.querySelector('h2')!;
  const grid = app.querySelector<HTMLElement>('.grid')!;
  const rangeSel = app.querySelector<HTMLSelectElement>('select.range')!;
  const liveBox = app.querySelector<HTMLInputElement>('input.live')!;
  const editor = app.querySelector<HTMLElement>('.editor')!;
  const text = editor.querySelector('textarea')!;
  const msg = editor.querySelector<HTMLElement>('.editor-msg')!;
  const editPanelsBtn = app.querySelector<HTMLButtonElement>('button.edit-panels')!;
  const editTools = app.querySelector<HTMLElement>('.edit-tools')!;
  const editMsg = app.querySelector<HTMLElement>('.edit-msg')!;
  const editArea = app.querySelector<HTMLElement>('.panel-edit-area')!;
  if (!canSave) {
    const badge = app.querySelector<HTMLElement>('.read-only')!;
    badge.hidden = false;
    badge.title = READ_ONLY;
    // A disabled button gets no pointer events, so its wrapper carries the tooltip too.
    for (const wrap of app.querySelectorAll<HTMLElement>('.save-wrap')) {
      wrap.title = READ_ONLY;
      const b = wrap.querySelector('button')!;
      b.disabled = true;
      b.title = READ_ONLY;
    }
  }
  const options = RANGES.includes(dash.range ?? '') ? RANGES : [dash.range ?? '15m', ...RANGES];
  for (const o of options) rangeSel.add(new Option(o, o, false, o === (dash.range ?? '15m')));

  const view = (): View => {
    return { ...gridFor(range, Date.now() / 1000), range };
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
        heldUpTo = ev.t;
        panels.forEach((p, i) => {
          const n = p.queries().length;
          p.tick(ev.t, ev.results.slice(offsets[i], offsets[i] + n));
        });
      },
      onResume: (lastT) => {
        document.body.dataset.backfills = String(Number(document.body.dataset.backfills ?? 0) + 1);
        const plan = backfillFor(lastT, Date.now() / 1000, range);
        if (plan.kind === 'reload') return void build();
        if (plan.kind === 'fill') for (const p of panels) void p.backfill(plan.from, plan.to, plan.step);
      },
    }, stepFor(range), heldUpTo);
  };

  /** Builds started; only the newest one marks the grid loaded. */
  let builds = 0;

  /**
   * Draws the grid of the shown dashboard; `focus` as in `edit`. `grid[data-loaded]` is
   * "true" once every panel of the newest build has its data (and its final height).
   */
  const build = async (focus?: { panel: number; sel: string }) => {
    const mine = ++builds;
    grid.dataset.loaded = 'false';
    stopLive();
    for (const p of panels) p.destroy();
    const d = shown();
    title.textContent = d.title;
    grid.textContent = '';
    grid.classList.toggle('editing', draft !== null);
    panels = d.panels.map(makePanel);
    panels.forEach((p, i) => {
      if (draft) {
        p.root.append(panelTools(i, d.panels[i]));
        p.root.append(resizeHandle(grid, p.root, i, widthOf(d.panels[i]), dragActions));
      }
      grid.append(p.root);
    });
    grid.dataset.range = String(range);
    // At once, before the panels' data arrive, so that a second arrow key press goes to it.
    if (focus) panels[focus.panel]?.root.querySelector<HTMLElement>(focus.sel)?.focus();
    const v = view();
    heldUpTo = undefined;
    await Promise.all(panels.map((p) => p.load(v)));
    if (mine !== builds) return;
    heldUpTo = v.end;
    grid.dataset.loaded = 'true';
    startLive();
  };

  /**
   * Changes the draft and redraws the grid from it; `focus` (a selector inside panel
   * `panel`) gets the keyboard focus back once it is redrawn, so that arrow keys go on
   * moving or resizing the same panel.
   */
  const edit = (next: Dashboard, focus?: { panel: number; sel: string }) => {
    draft = next;
    editMsg.textContent = '';
    void build(focus);
  };

  /** What dragging (or the arrow keys on a grip or a resize handle) does to the draft. */
  const dragActions: DragActions = {
    move: (from, to) => {
      const d = draft;
      if (!d) return;
      const at = Math.max(0, Math.min(d.panels.length - 1, to));
      edit(movePanel(d, from, at - from), { panel: at, sel: '.drag-handle' });
    },
    resize: (i, width) => {
      if (draft) edit(resizePanel(draft, i, width), { panel: i, sel: '.resize-handle' });
    },
  };

  const closePanelEditor = () => {
    editArea.hidden = true;
    editArea.textContent = '';
    delete editArea.dataset.panel;
  };

  const openPanelEditor = (i: number) => {
    const d = draft;
    if (!d) return;
    editArea.hidden = false;
    editArea.dataset.panel = String(i);
    renderPanelEditor(editArea, d.panels[i], {
      apply: (def) => {
        closePanelEditor();
        if (draft) edit(replacePanel(draft, i, def));
      },
      cancel: closePanelEditor,
    });
  };

  /** Move, resize, edit and remove buttons on panel `i` of the draft. */
  const panelTools = (i: number, def: PanelDef): HTMLElement => {
    const bar = document.createElement('div');
    bar.className = 'panel-tools';
    const button = (cls: string, text: string, tip: string, action: () => void) => {
      const b = document.createElement('button');
      b.className = cls;
      b.textContent = text;
      b.title = tip;
      b.addEventListener('click', action);
      bar.append(b);
    };
    const d = () => draft ?? dash;
    bar.append(moveGrip(grid, i, dragActions));
    button('move-left', '◀', 'Move left', () => edit(movePanel(d(), i, -1)));
    button('move-right', '▶', 'Move right', () => edit(movePanel(d(), i, 1)));
    button('narrower', '−', 'Narrower', () => edit(resizePanel(d(), i, widthOf(def) - 1)));
    button('wider', '+', 'Wider', () => edit(resizePanel(d(), i, widthOf(def) + 1)));
    button('edit-panel', 'Edit', 'Edit this panel', () => openPanelEditor(i));
    button('remove-panel', '✕', 'Remove this panel', () => {
      closePanelEditor();
      edit(removePanel(d(), i));
    });
    return bar;
  };

  const setEditing = (on: boolean) => {
    draft = on ? clone(dash) : null;
    editTools.hidden = !on;
    editPanelsBtn.hidden = on;
    editMsg.textContent = '';
    closePanelEditor();
    void build();
  };

  editPanelsBtn.addEventListener('click', () => setEditing(true));
  editTools.querySelector('.discard-panels')!.addEventListener('click', () => setEditing(false));
  editTools.querySelector('.add-panel')!.addEventListener('click', () => {
    if (!draft) return;
    const next = addPanel(draft);
    edit(next);
    openPanelEditor(next.panels.length - 1);
  });
  editTools.querySelector('.save-panels')!.addEventListener('click', async () => {
    if (!draft) return;
    editMsg.textContent = 'saving…';
    editMsg.className = 'edit-msg';
    const saved = await saveDashboard(draft);
    if (!saved.ok) {
      showSaveError(saved.error);
      return;
    }
    dash = saved.data;
    setEditing(false);
  });

  /** The server's reason on the toolbar, and on the panel it names. */
  const showSaveError = (error: string) => {
    editMsg.textContent = error;
    editMsg.className = 'edit-msg error';
    const i = panelOfError(error);
    const p = i === null ? undefined : panels[i];
    if (!p) return;
    p.root.querySelector('.edit-error')?.remove();
    const el = document.createElement('div');
    el.className = 'edit-error error';
    el.textContent = error;
    p.root.dataset.invalid = error;
    p.root.querySelector('.panel-tools')?.after(el);
  };

  rangeSel.addEventListener('change', () => {
    range = parseDuration(rangeSel.value) ?? range;
    void build();
  });
  liveBox.addEventListener('change', () => (liveBox.checked ? startLive() : stopLive()));
  app.querySelector('.edit')!.addEventListener('click', () => {
    text.value = JSON.stringify(shown(), null, 2);
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
    if (draft) setEditing(false);
    else await build();
  });

  await build();
  return () => {
    stopLive();
    for (const p of panels) p.destroy();
    setLiveState('off');
  };
}
