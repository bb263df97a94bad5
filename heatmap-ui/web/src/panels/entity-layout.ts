// Where an entity heatmap's cells go: square cells, row after row, each group under its
// heading, as large as lets every row fit the panel's height. Pure, so that it is
// tested without a canvas.

/** Height of a group's heading, in pixels. */
export const GROUP_LABEL = 14;
const MAX_CELL = 48;
const MIN_CELL = 3;

export interface Layout {
  /** The width it was placed for. */
  width: number;
  /** Cell size in pixels (square, 1 px gap included). */
  size: number;
  /** Cell i's top-left corner. */
  x: Float32Array;
  y: Float32Array;
  height: number;
  /** Group headings: text and y. */
  groups: { name: string; y: number }[];
}

/**
 * Cells of entities whose groups are `groups[i]` (in cell order, each group's cells
 * together) over `width` pixels; `groupBy` names the label of the headings (none without
 * it). The cell is the largest, from 48 down to 3 px, whose rows fit `maxHeight`.
 */
export function placeCells(groups: string[], width: number, groupBy: string | undefined, maxHeight: number): Layout {
  const counts = new Map<string, number>();
  for (const g of groups) counts.set(g, (counts.get(g) ?? 0) + 1);
  const headings = groupBy ? counts.size * GROUP_LABEL : 0;
  let size = MAX_CELL;
  while (size > MIN_CELL) {
    const perRow = Math.max(1, Math.floor(width / size));
    let rows = 0;
    for (const c of counts.values()) rows += Math.ceil(c / perRow);
    if (rows * size + headings <= maxHeight) break;
    size--;
  }
  const perRow = Math.max(1, Math.floor(width / size));
  const n = Math.max(1, groups.length);
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  const heads: { name: string; y: number }[] = [];
  let top = 0;
  let col = 0;
  let group: string | null = null;
  groups.forEach((g, i) => {
    if (g !== group) {
      if (group !== null && col > 0) top += size;
      col = 0;
      group = g;
      if (groupBy) {
        heads.push({ name: `${groupBy}=${g}`, y: top });
        top += GROUP_LABEL;
      }
    }
    if (col === perRow) {
      col = 0;
      top += size;
    }
    x[i] = col * size;
    y[i] = top;
    col++;
  });
  const height = Math.max(size, top + (groups.length ? size : 0));
  return { width, size, x, y, height, groups: heads };
}
