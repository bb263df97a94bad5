import { describe, expect, it } from 'vitest';
import { choiceFromParams, choiceParams, formatDuration, fromLocalInput, toLocalInput, windowFor, zoomTo } from './timerange';
import { parseDuration } from './format';

/** The server's rule: a range query of more points than this is refused. */
const MAX_POINTS = 11_000;

describe('the window of a choice', () => {
  it('ending now, ends on the newest whole step and spans exactly the range', () => {
    const w = windowFor({ range: 3600, end: null }, 1_000_003.7);
    expect(w.step).toBe(4);
    expect(w.to).toBe(1_000_000);
    expect(w.to - w.from).toBe(3600);
    expect([w.start, w.end]).toEqual([996_400, 1_000_000]);
  });
  it('with an absolute end, spans the range up to that second, its grid inside', () => {
    const w = windowFor({ range: 300, end: 1_700_000_123 }, 1_800_000_000);
    expect([w.from, w.to]).toEqual([1_699_999_823, 1_700_000_123]);
    expect(w.step).toBe(1);
    expect([w.start, w.end]).toEqual([w.from, w.to]);
    const coarse = windowFor({ range: 3601, end: 1_000_002 }, 0);
    expect(coarse.step).toBe(5);
    expect(coarse.start).toBeGreaterThanOrEqual(coarse.from);
    expect(coarse.end).toBeLessThanOrEqual(coarse.to);
    expect(coarse.start % 5).toBe(0);
    expect(coarse.end % 5).toBe(0);
    expect((coarse.end - coarse.start) / coarse.step + 1).toBeLessThanOrEqual(MAX_POINTS);
  });
});

describe('zoom', () => {
  it('selects the dragged span as an absolute range in whole seconds', () => {
    expect(zoomTo(1000.4, 1150.6)).toEqual({ end: 1151, range: 151 });
    // A drag from right to left selects the same span.
    expect(zoomTo(1150.6, 1000.4)).toEqual({ end: 1151, range: 151 });
  });
  it('never zooms below one second', () => {
    expect(zoomTo(1000.1, 1000.2)).toEqual({ end: 1000, range: 1 });
  });
  it('zooming twice narrows within the first zoom', () => {
    const a = zoomTo(1000, 1300);
    const w = windowFor(a, 99_999);
    const b = zoomTo(w.from + 0.25 * a.range, w.from + 0.75 * a.range);
    expect(b).toEqual({ end: 1225, range: 150 });
  });
});

describe('durations', () => {
  it('are written as Prometheus writes them, and read back', () => {
    expect(formatDuration(900)).toBe('15m');
    expect(formatDuration(150)).toBe('2m30s');
    expect(formatDuration(86400 + 3600 * 12)).toBe('1d12h');
    expect(formatDuration(1)).toBe('1s');
    for (const s of [1, 59, 61, 3599, 3600, 90061, 604800]) expect(parseDuration(formatDuration(s))).toBe(s);
  });
});

describe('datetime-local values', () => {
  it('round-trip whole seconds in the local time zone', () => {
    for (const s of [0, 1_700_000_123, 1_719_791_999, 1_735_689_600]) expect(fromLocalInput(toLocalInput(s))).toBe(s);
  });
  it('take minutes without seconds, empty as now, and refuse the rest', () => {
    const s = fromLocalInput('2024-03-05T07:08');
    expect(s).toBe(new Date(2024, 2, 5, 7, 8, 0).getTime() / 1000);
    expect(fromLocalInput('')).toBeNull();
    expect(fromLocalInput('yesterday')).toBeUndefined();
    expect(fromLocalInput('2024-02-31T10:00')).toBeUndefined();
  });
});

describe('the choice in the URL', () => {
  it('round-trips a zoomed range and its absolute end', () => {
    const c = { range: 150, end: 1_700_000_123 };
    expect(choiceParams(c)).toBe('range=2m30s&end=1700000123');
    expect(choiceFromParams(new URLSearchParams(choiceParams(c)))).toEqual(c);
  });
  it('defaults to 15 minutes ending now, and ignores what is not a time', () => {
    expect(choiceFromParams(new URLSearchParams(''))).toEqual({ range: 900, end: null });
    expect(choiceFromParams(new URLSearchParams('range=5m&end=soon'))).toEqual({ range: 300, end: null });
    expect(choiceFromParams(new URLSearchParams('range=200ms'))).toEqual({ range: 1, end: null });
  });
});
