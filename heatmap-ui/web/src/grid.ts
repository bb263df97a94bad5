// The geometry of the 12-column dashboard grid, for dragging panels: which width a
// resize handle dropped at x gives, and which panel's place a panel dropped at (x, y)
// takes. Pure functions over rectangles: no DOM, so that they are unit-tested.

export const COLUMNS = 12;

export interface Rect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/**
 * The width in columns of a panel whose left edge is at `panelLeft` when its right edge
 * is dragged to `x`, in a grid `gridWidth` pixels wide with `gap` pixels between
 * columns. Rounded to the nearest column boundary, clamped to 1–12 and to the columns
 * left of the panel's start on its row.
 */
export function widthAt(x: number, panelLeft: number, gridLeft: number, gridWidth: number, gap: number): number {
  const column = (gridWidth - gap * (COLUMNS - 1)) / COLUMNS;
  const pitch = column + gap;
  if (!(pitch > 0)) return 1;
  // Columns before the panel on its row: it cannot grow past the grid's right edge.
  const before = Math.max(0, Math.round((panelLeft - gridLeft) / pitch));
  const wanted = Math.round((x - panelLeft + gap) / pitch);
  return Math.max(1, Math.min(COLUMNS - before, wanted));
}

/**
 * The index of the panel a dragged panel is dropped on: the one whose rectangle holds
 * (x, y), else the nearest by distance to its rectangle. `null` when there are none.
 */
export function dropIndex(rects: Rect[], x: number, y: number): number | null {
  let best: number | null = null;
  let bestD = Infinity;
  rects.forEach((r, i) => {
    const dx = x < r.left ? r.left - x : x > r.right ? x - r.right : 0;
    const dy = y < r.top ? r.top - y : y > r.bottom ? y - r.bottom : 0;
    const d = dx * dx + dy * dy;
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  });
  return best;
}
