import { describe, expect, it } from 'vitest';
import type { Dashboard } from './api';
import { addPanel, movePanel, panelOfError, removePanel, replacePanel, resizePanel, tidy, withType } from './draft';

const dash = (): Dashboard => ({
  id: 'd',
  title: 'D',
  panels: [
    { type: 'stat', title: 'a', expr: 'x', width: 3 },
    { type: 'timeseries', title: 'b', expr: 'y', legend: '{{pod}}' },
    { type: 'entity_heatmap', title: 'c', tabs: [{ name: 'cpu', expr: 'z', unit: 'percent' }], group_by: 'node' },
  ],
});

const titles = (d: Dashboard) => d.panels.map((p) => p.title);

describe('draft operations', () => {
  it('move within bounds and leave the original alone', () => {
    const d = dash();
    expect(titles(movePanel(d, 0, 1))).toEqual(['b', 'a', 'c']);
    expect(titles(movePanel(d, 2, -2))).toEqual(['c', 'a', 'b']);
    expect(titles(movePanel(d, 2, 5))).toEqual(['a', 'b', 'c']);
    expect(titles(movePanel(d, 0, -1))).toEqual(['a', 'b', 'c']);
    expect(titles(d)).toEqual(['a', 'b', 'c']);
  });

  it('resize clamps to the 12-column grid', () => {
    const d = dash();
    expect(resizePanel(d, 0, 4).panels[0].width).toBe(4);
    expect(resizePanel(d, 0, 13).panels[0].width).toBe(12);
    expect(resizePanel(d, 1, 0).panels[1].width).toBe(1);
    expect(d.panels[0].width).toBe(3);
  });

  it('add appends a panel of the asked type; remove drops one', () => {
    const d = addPanel(dash(), 'entity_heatmap');
    expect(d.panels).toHaveLength(4);
    expect(d.panels[3]).toMatchObject({ type: 'entity_heatmap', tabs: [{ name: 'value', expr: 'up' }] });
    expect(titles(removePanel(d, 1))).toEqual(['a', 'c', 'New panel']);
  });

  it('replace swaps one panel for a copy', () => {
    const p = { type: 'stat' as const, title: 'n', expr: 'count(up)' };
    const d = replacePanel(dash(), 1, p);
    expect(d.panels[1]).toEqual(p);
    expect(d.panels[1]).not.toBe(p);
    expect(replacePanel(dash(), 7, p).panels).toHaveLength(3);
  });
});

describe('changing a panel type', () => {
  it('carries the query between expr and the first tab', () => {
    const d = dash();
    const e = withType(d.panels[1], 'entity_heatmap');
    expect(e).toEqual({ type: 'entity_heatmap', title: 'b', tabs: [{ name: 'value', expr: 'y' }] });
    const back = withType(d.panels[2], 'stat');
    expect(back).toEqual({ type: 'stat', title: 'c', expr: 'z' });
  });

  it('keeps only the fields of the new type', () => {
    const ts = withType({ ...dash().panels[1], group_by: 'node' }, 'timeseries');
    expect(ts).toEqual({ type: 'timeseries', title: 'b', expr: 'y', legend: '{{pod}}' });
    expect(withType(dash().panels[1], 'stat')).not.toHaveProperty('legend');
  });

  it('tidy leaves empty optional fields out', () => {
    expect(tidy({ type: 'timeseries', title: 't', expr: 'q', legend: '', unit: '' })).toEqual({
      type: 'timeseries',
      title: 't',
      expr: 'q',
    });
    expect(tidy({ type: 'entity_heatmap', title: 'e', tabs: [{ name: 'a', expr: 'b', unit: '' }], sort_by: '' })).toEqual({
      type: 'entity_heatmap',
      title: 'e',
      tabs: [{ name: 'a', expr: 'b' }],
    });
    // No tab is left as it is, for the server to refuse with its reason.
    expect(tidy({ type: 'entity_heatmap', title: 'e', tabs: [] }).tabs).toEqual([]);
  });
});

describe('server errors', () => {
  it('name their panel by index', () => {
    expect(panelOfError('panel 2 ("Pods"): an entity heatmap needs at least one tab')).toBe(2);
    expect(panelOfError('panel 0 ("x"): width must be 1 to 12, got 13')).toBe(0);
    expect(panelOfError('invalid dashboard id "a b": use 1 to 64 of A-Z a-z 0-9 _ -')).toBeNull();
  });
});
