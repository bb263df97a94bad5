import { describe, expect, it } from 'vitest';
import { deaccumulate, deaccumulateColumns, parseLe } from './buckets';

describe('deaccumulate', () => {
  it('turns cumulative counts into per-bucket counts, sorted by le', () => {
    const got = deaccumulate([
      { le: '+Inf', value: 10 },
      { le: '0.1', value: 2 },
      { le: '1', value: 7 },
      { le: '0.5', value: 5 },
    ]);
    expect(got.map((b) => [b.le, b.value])).toEqual([
      ['0.1', 2],
      ['0.5', 3],
      ['1', 2],
      ['+Inf', 3],
    ]);
    expect(got.map((b) => [b.lower, b.upper])).toEqual([
      [0, 0.1],
      [0.1, 0.5],
      [0.5, 1],
      [1, Infinity],
    ]);
  });

  it('clamps a bucket below its predecessor to zero without disturbing the next', () => {
    // rate() extrapolation can make a higher bucket slightly smaller than a lower one.
    const got = deaccumulate([
      { le: '1', value: 5 },
      { le: '2', value: 4.9 },
      { le: '+Inf', value: 6 },
    ]);
    expect(got.map((b) => b.value)).toEqual([5, 0, 1]);
  });

  it('reads le in every spelling Prometheus uses and drops what is not a number', () => {
    expect(parseLe('1e-3')).toBe(0.001);
    expect(parseLe('+Inf')).toBe(Infinity);
    const got = deaccumulate([
      { le: 'x', value: 1 },
      { le: '1', value: 3 },
      { le: '1.0', value: 3 },
      { le: '+Inf', value: NaN },
    ]);
    expect(got.map((b) => [b.le, b.value])).toEqual([
      ['1', 3],
      ['+Inf', 0],
    ]);
  });

  it('keeps negative bounds open below', () => {
    const got = deaccumulate([
      { le: '-1', value: 1 },
      { le: '0', value: 1 },
    ]);
    expect(got[0].lower).toBe(-Infinity);
    expect(got.map((b) => b.value)).toEqual([1, 0]);
  });
});

describe('deaccumulateColumns', () => {
  it('de-accumulates each time column on its own and keeps gaps', () => {
    const series = new Map<string, (number | null)[]>([
      ['+Inf', [4, null, 9]],
      ['0.5', [1, null, 2]],
      ['0.25', [1, null, 1]],
    ]);
    const { rows, cells } = deaccumulateColumns(series, 3);
    expect(rows.map((r) => r.le)).toEqual(['0.25', '0.5', '+Inf']);
    expect(cells).toEqual([
      [1, 0, 3],
      [null, null, null],
      [1, 1, 7],
    ]);
  });
});
