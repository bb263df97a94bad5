import { describe, expect, it } from 'vitest';
import { formatValue, gridFor, legendFor, parseDuration } from './format';

describe('units', () => {
  it('formats each unit of the schema', () => {
    expect(formatValue(1536, 'bytes')).toBe('1.5 KiB');
    expect(formatValue(0.0005, 'seconds')).toBe('500 µs');
    expect(formatValue(0.25, 'seconds')).toBe('250 ms');
    expect(formatValue(0, 'seconds')).toBe('0 s');
    expect(formatValue(0.125, 'percent')).toBe('12.5%');
    expect(formatValue(12_500, 'ops')).toBe('12.5k/s');
    expect(formatValue(3.14159)).toBe('3.14');
  });
  it('shows what has no number as Prometheus does', () => {
    expect(formatValue(null)).toBe('–');
    expect(formatValue(NaN, 'bytes')).toBe('NaN');
    expect(formatValue(Infinity, 'seconds')).toBe('+Inf');
  });
});

describe('legends and durations', () => {
  it('fills a legend template from the labels', () => {
    expect(legendFor({ __name__: 'x', pod: 'p1' }, '{{pod}} cpu')).toBe('p1 cpu');
    expect(legendFor({ __name__: 'x', pod: 'p1' }, undefined)).toBe('x{pod="p1"}');
  });
  it('puts range queries on whole steps, where live ticks land', () => {
    expect(gridFor(300, 1_700_000_123.7)).toEqual({ start: 1_699_999_823, end: 1_700_000_123, step: 1 });
    expect(gridFor(3600, 1_700_000_123.7)).toEqual({ start: 1_699_996_520, end: 1_700_000_120, step: 4 });
    // A range that is no whole number of steps reaches back to the step before it.
    expect(gridFor(1000, 1_700_000_123)).toEqual({ start: 1_699_999_122, end: 1_700_000_122, step: 2 });
  });
  it('reads the range picker durations', () => {
    expect(parseDuration('5m')).toBe(300);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('nope')).toBeNull();
  });
});
