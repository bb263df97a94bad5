// Editing a dashboard panel by panel: the operations on a draft (a copy of the
// dashboard that the page edits and saves as a whole through `PUT /api/ui/dashboards/{id}`).
// Every operation returns a new draft; the saved dashboard is kept until the save
// succeeds, so that "discard" is just dropping the draft. Pure functions: no DOM.

import type { Dashboard, PanelDef, Tab } from './api';

export const PANEL_TYPES: PanelDef['type'][] = ['timeseries', 'stat', 'histogram_heatmap', 'entity_heatmap'];
export const UNITS = ['', 'bytes', 'seconds', 'percent', 'ops'];

/** The width a panel spans when its file says nothing (the server's default). */
export const DEFAULT_WIDTH = 6;

export function clone(d: Dashboard): Dashboard {
  return JSON.parse(JSON.stringify(d)) as Dashboard;
}

export function widthOf(p: PanelDef): number {
  return p.width ?? DEFAULT_WIDTH;
}

/** A new panel of `type` with a placeholder query, appended at the end of the grid. */
export function addPanel(d: Dashboard, type: PanelDef['type'] = 'timeseries'): Dashboard {
  const next = clone(d);
  next.panels.push(withType({ type: 'timeseries', title: 'New panel', width: DEFAULT_WIDTH, expr: 'up' }, type));
  return next;
}

export function removePanel(d: Dashboard, i: number): Dashboard {
  const next = clone(d);
  next.panels.splice(i, 1);
  return next;
}

/** Moves panel `i` by `by` places in the grid's left-to-right order, within bounds. */
export function movePanel(d: Dashboard, i: number, by: number): Dashboard {
  const next = clone(d);
  const to = Math.max(0, Math.min(next.panels.length - 1, i + by));
  if (to === i || i < 0 || i >= next.panels.length) return next;
  const [p] = next.panels.splice(i, 1);
  next.panels.splice(to, 0, p);
  return next;
}

/** Panel `i` as wide as `width` columns, clamped to the grid's 1–12. */
export function resizePanel(d: Dashboard, i: number, width: number): Dashboard {
  const next = clone(d);
  const p = next.panels[i];
  if (p) p.width = Math.max(1, Math.min(12, Math.round(width)));
  return next;
}

export function replacePanel(d: Dashboard, i: number, p: PanelDef): Dashboard {
  const next = clone(d);
  if (i >= 0 && i < next.panels.length) next.panels[i] = JSON.parse(JSON.stringify(p)) as PanelDef;
  return next;
}

/**
 * `p` as a panel of `type`, keeping what carries over: the query moves between `expr`
 * and the first tab, and fields the new type does not have are dropped (the server
 * refuses none of them, but they would be saved to the file for nothing).
 */
export function withType(p: PanelDef, type: PanelDef['type']): PanelDef {
  const base: PanelDef = { type, title: p.title };
  if (p.width !== undefined) base.width = p.width;
  if (p.unit) base.unit = p.unit;
  const expr = p.expr ?? p.tabs?.[0]?.expr ?? '';
  if (type === 'entity_heatmap') {
    base.tabs = p.tabs?.length ? p.tabs.map((t) => ({ ...t })) : [{ name: 'value', expr }];
    if (p.group_by) base.group_by = p.group_by;
    if (p.sort_by) base.sort_by = p.sort_by;
  } else {
    base.expr = expr;
    if (type === 'timeseries' && p.legend) base.legend = p.legend;
  }
  return base;
}

/**
 * Empty optional fields left out, as the server writes them. An entity heatmap keeps its
 * tabs as they are, none included: the server, not the page, says what is wrong with it.
 */
export function tidy(p: PanelDef): PanelDef {
  const out = withType(p, p.type);
  if (out.type === 'entity_heatmap') out.tabs = (p.tabs ?? []).map((t) => ({ ...t }));
  if (out.type === 'timeseries' && !out.legend) delete out.legend;
  if (!out.unit) delete out.unit;
  if (!out.group_by) delete out.group_by;
  if (!out.sort_by) delete out.sort_by;
  if (out.tabs) out.tabs = out.tabs.map((t: Tab) => (t.unit ? { ...t } : { name: t.name, expr: t.expr }));
  return out;
}

/**
 * Which panel a server validation error is about: the dashboard API names it as
 * `panel <index> ("<title>"): <reason>`. `null` when the error is about the dashboard.
 */
export function panelOfError(error: string): number | null {
  const m = /\bpanel (\d+)\b/.exec(error);
  return m ? Number(m[1]) : null;
}
