import { describe, expect, it } from 'vitest';
import { GROUP_LABEL, placeCells } from './entity-layout';

const cells = (n: number, group = (i: number) => `n${i % 3}`) =>
  Array.from({ length: n }, (_, i) => group(i)).sort();

function inside(l: ReturnType<typeof placeCells>, n: number) {
  for (let i = 0; i < n; i++) {
    expect(l.x[i] + l.size).toBeLessThanOrEqual(l.width);
    expect(l.y[i] + l.size).toBeLessThanOrEqual(l.height);
  }
}

describe('entity cell placement', () => {
  it('puts every group under its heading, each cell inside the width', () => {
    const l = placeCells(cells(24), 600, 'node', 260);
    expect(l.groups.map((g) => g.name)).toEqual(['node=n0', 'node=n1', 'node=n2']);
    // Eight cells a group fit one row at 600 px: headings and rows alternate.
    expect(l.size).toBe(48);
    expect(l.groups[1].y).toBe(GROUP_LABEL + 48);
    inside(l, 24);
  });
  it('places the same cells again for a narrower panel: smaller cells, more rows', () => {
    const groups = cells(2000, (i) => `n${i % 4}`);
    const wide = placeCells(groups, 1300, 'node', 260);
    const narrow = placeCells(groups, 600, 'node', 260);
    expect(narrow.width).toBe(600);
    expect(narrow.size).toBeLessThan(wide.size);
    inside(wide, groups.length);
    inside(narrow, groups.length);
    // Cells never overlap: positions are distinct.
    const seen = new Set<string>();
    for (let i = 0; i < groups.length; i++) seen.add(`${narrow.x[i]},${narrow.y[i]}`);
    expect(seen.size).toBe(groups.length);
  });
  it('fits the height when the cells allow it', () => {
    const l = placeCells(cells(300), 400, undefined, 260);
    expect(l.groups).toEqual([]);
    expect(l.height).toBeLessThanOrEqual(260);
    inside(l, 300);
  });
});
