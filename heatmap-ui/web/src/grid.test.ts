import { describe, expect, it } from 'vitest';
import { dropIndex, widthAt } from './grid';

// A 1200 px grid with 8 px gaps: columns of (1200 − 88) / 12 = 92.67 px, a pitch of 100.67.
const W = 1200;
const GAP = 8;
const pitch = (W - GAP * 11) / 12 + GAP;

describe('widthAt', () => {
  it('rounds the dragged edge to the nearest column boundary', () => {
    // A panel at the grid's left edge, its right edge dragged to the end of column 4.
    expect(widthAt(4 * pitch - GAP, 0, 0, W, GAP)).toBe(4);
    expect(widthAt(4 * pitch - GAP + 0.4 * pitch, 0, 0, W, GAP)).toBe(4);
    expect(widthAt(4 * pitch - GAP + 0.6 * pitch, 0, 0, W, GAP)).toBe(5);
    // Offsets of the grid and the panel are relative.
    expect(widthAt(100 + 2 * pitch + 3 * pitch - GAP, 100 + 2 * pitch, 100, W, GAP)).toBe(3);
  });

  it('stays within 1 column and the room left on the row', () => {
    expect(widthAt(-500, 0, 0, W, GAP)).toBe(1);
    expect(widthAt(5000, 0, 0, W, GAP)).toBe(12);
    // Starting at column 9 (index 8), at most 4 columns fit.
    expect(widthAt(5000, 8 * pitch, 0, W, GAP)).toBe(4);
    expect(widthAt(10, 0, 0, 0, 0)).toBe(1);
  });
});

describe('dropIndex', () => {
  const rects = [
    { left: 0, top: 0, right: 100, bottom: 50 },
    { left: 110, top: 0, right: 300, bottom: 50 },
    { left: 0, top: 60, right: 300, bottom: 120 },
  ];
  it('is the panel under the pointer', () => {
    expect(dropIndex(rects, 50, 25)).toBe(0);
    expect(dropIndex(rects, 200, 10)).toBe(1);
    expect(dropIndex(rects, 250, 100)).toBe(2);
  });
  it('else the nearest one', () => {
    expect(dropIndex(rects, 105, 20)).toBe(0);
    expect(dropIndex(rects, 400, 10)).toBe(1);
    expect(dropIndex(rects, 150, 500)).toBe(2);
    expect(dropIndex([], 0, 0)).toBeNull();
  });
});
