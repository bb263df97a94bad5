import { describe, expect, it } from 'vitest';
import { SeriesWindow } from './series';

const m = { __name__: 'x' };

describe('series window', () => {
  it('has no gap once a backfill covers the steps the ticks missed', () => {
    const w = new SeriesWindow();
    w.addRange([{ metric: m, values: [[100, '1'], [101, '1'], [102, '1']] }]);
    w.addTick(103, [{ metric: m, value: '2' }]);
    // Disconnected after 103; back at 110.
    w.addTick(110, [{ metric: m, value: '3' }]);
    expect(w.gaps(1)).toEqual([[104, 109]]);
    w.addRange([{ metric: m, values: [[103, '2'], [104, '2'], [105, '2'], [106, '2'], [107, '2'], [108, '2'], [109, '2'], [110, '3']] }]);
    expect(w.gaps(1)).toEqual([]);
    // The overlap did not double a point.
    expect(w.sortedTimes()).toHaveLength(11);
  });
  it('reports each hole on a coarser grid', () => {
    const w = new SeriesWindow();
    w.addRange([{ metric: m, values: [[0, '1'], [4, '1'], [16, '1'], [20, '1'], [32, '1']] }]);
    expect(w.gaps(4)).toEqual([[8, 12], [24, 28]]);
  });
});
