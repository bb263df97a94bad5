// The form that edits one panel: title, type, width, unit, and the queries — `expr`
// (with the legend of a time series), or the tabs of an entity heatmap with its grouping
// and ordering labels. "Apply" hands the edited panel back to the dashboard's draft; the
// dashboard is saved as a whole from the toolbar, where the server's verdict shows.

import type { PanelDef, Tab } from './api';
import { PANEL_TYPES, tidy, UNITS, withType } from './draft';

export interface EditorHandlers {
  apply(def: PanelDef): void;
  cancel(): void;
}

const TYPE_NAMES: Record<PanelDef['type'], string> = {
  timeseries: 'Time series',
  stat: 'Stat',
  histogram_heatmap: 'Histogram heatmap',
  entity_heatmap: 'Entity heatmap',
};

function field(label: string, input: HTMLElement, cls: string): HTMLLabelElement {
  const l = document.createElement('label');
  l.className = `field ${cls}`;
  const span = document.createElement('span');
  span.textContent = label;
  l.append(span, input);
  return l;
}

function textInput(name: string, value: string, placeholder = ''): HTMLInputElement {
  const i = document.createElement('input');
  i.type = 'text';
  i.name = name;
  i.value = value;
  i.placeholder = placeholder;
  i.spellcheck = false;
  return i;
}

function queryInput(name: string, value: string): HTMLTextAreaElement {
  const t = document.createElement('textarea');
  t.name = name;
  t.value = value;
  t.rows = 2;
  t.spellcheck = false;
  t.className = 'expr';
  return t;
}

function select(name: string, options: [string, string][], value: string): HTMLSelectElement {
  const s = document.createElement('select');
  s.name = name;
  for (const [v, text] of options) s.add(new Option(text, v, false, v === value));
  return s;
}

/** Renders the form for `def` into `host` (replacing what it held). */
export function renderPanelEditor(host: HTMLElement, initial: PanelDef, h: EditorHandlers): void {
  // The form's state: the panel as edited so far, re-rendered when its type changes.
  let def: PanelDef = JSON.parse(JSON.stringify(initial)) as PanelDef;
  const form = document.createElement('form');
  form.className = 'panel-editor';
  host.textContent = '';
  host.append(form);

  const render = () => {
    form.textContent = '';
    const title = textInput('title', def.title);
    title.addEventListener('input', () => (def.title = title.value));
    const type = select(
      'type',
      PANEL_TYPES.map((t) => [t, TYPE_NAMES[t]]),
      def.type,
    );
    type.addEventListener('change', () => {
      def = withType(def, type.value as PanelDef['type']);
      render();
    });
    const width = document.createElement('input');
    width.type = 'number';
    width.name = 'width';
    width.min = '1';
    width.max = '12';
    width.value = String(def.width ?? 6);
    width.addEventListener('input', () => (def.width = Number(width.value)));
    const unit = select(
      'unit',
      UNITS.map((u) => [u, u || 'none']),
      def.unit ?? '',
    );
    unit.addEventListener('change', () => (def.unit = unit.value));
    const row = document.createElement('div');
    row.className = 'row';
    row.append(
      field('Title', title, 'title'),
      field('Type', type, 'type'),
      field('Width', width, 'width'),
      field(def.type === 'entity_heatmap' ? 'Default unit' : 'Unit', unit, 'unit'),
    );
    form.append(row);

    if (def.type === 'entity_heatmap') renderTabs();
    else {
      const expr = queryInput('expr', def.expr ?? '');
      expr.addEventListener('input', () => (def.expr = expr.value));
      form.append(field('Query', expr, 'query'));
      if (def.type === 'timeseries') {
        const legend = textInput('legend', def.legend ?? '', '{{label}} per series; label set when empty');
        legend.addEventListener('input', () => (def.legend = legend.value));
        form.append(field('Legend', legend, 'legend'));
      }
    }

    const buttons = document.createElement('div');
    buttons.className = 'buttons';
    const apply = document.createElement('button');
    apply.type = 'submit';
    apply.className = 'apply';
    apply.textContent = 'Apply';
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.className = 'cancel';
    cancel.textContent = 'Cancel';
    cancel.addEventListener('click', () => h.cancel());
    buttons.append(apply, ' ', cancel);
    form.append(buttons);
  };

  const renderTabs = () => {
    const tabs: Tab[] = def.tabs ?? (def.tabs = []);
    const group = textInput('group_by', def.group_by ?? '', 'label, e.g. node');
    group.addEventListener('input', () => (def.group_by = group.value));
    const sort = textInput('sort_by', def.sort_by ?? '', 'label, e.g. pod');
    sort.addEventListener('input', () => (def.sort_by = sort.value));
    const row = document.createElement('div');
    row.className = 'row';
    row.append(field('Group by', group, 'group-by'), field('Sort by', sort, 'sort-by'));
    form.append(row);
    tabs.forEach((t, i) => {
      const box = document.createElement('fieldset');
      box.className = 'tab-editor';
      box.dataset.tab = String(i);
      const legend = document.createElement('legend');
      legend.textContent = `Tab ${i + 1}`;
      const name = textInput('tab-name', t.name);
      name.addEventListener('input', () => (t.name = name.value));
      const unit = select(
        'tab-unit',
        UNITS.map((u) => [u, u || 'none']),
        t.unit ?? '',
      );
      unit.addEventListener('change', () => (t.unit = unit.value));
      const expr = queryInput('tab-expr', t.expr);
      expr.addEventListener('input', () => (t.expr = expr.value));
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'remove-tab';
      remove.textContent = 'Remove tab';
      remove.addEventListener('click', () => {
        tabs.splice(i, 1);
        render();
      });
      const r = document.createElement('div');
      r.className = 'row';
      r.append(field('Name', name, 'tab-name'), field('Unit', unit, 'tab-unit'), remove);
      box.append(legend, r, field('Query', expr, 'query'));
      form.append(box);
    });
    const add = document.createElement('button');
    add.type = 'button';
    add.className = 'add-tab';
    add.textContent = 'Add tab';
    add.addEventListener('click', () => {
      tabs.push({ name: `tab ${tabs.length + 1}`, expr: '' });
      render();
    });
    form.append(add);
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    h.apply(tidy(def));
  });
  render();
}
