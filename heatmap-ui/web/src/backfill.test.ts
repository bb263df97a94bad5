import { describe, expect, it } from 'vitest';
import { backfillFor } from './backfill';

/** The server's rule: a range query of more points than this is refused. */
const MAX_POINTS = 11_000;

describe('backfill after a reconnect', () => {
  it('fills the gap from the last tick seen to the newest step', () => {
    expect(backfillFor(1000, 1012.5, 900)).toEqual({ kind: 'fill', from: 1000, to: 1012, step: 1 });
  });
  it('is limited to the view, whatever the outage', () => {
    // 4 hours down with a 4-hour range at 16 s steps: the whole view, on its grid.
    const now = 2_000_000;
    const b = backfillFor(now - 4 * 3600, now, 4 * 3600);
    expect(b).toEqual({ kind: 'fill', from: now - 4 * 3600, to: now, step: 16 });
    for (const [down, range] of [[60, 60], [899, 900], [86_399, 86_400], [3599, 3600]]) {
      const r = backfillFor(now - down, now + 0.9, range);
      expect(r.kind).toBe('fill');
      if (r.kind !== 'fill') continue;
      expect(r.from).toBeGreaterThanOrEqual(r.to - range);
      expect((r.to - r.from) / r.step + 1).toBeLessThanOrEqual(MAX_POINTS);
      expect(r.from % r.step).toBe(0);
    }
  });
  it('reloads the view when the gap is longer than it (the query that overran 11,000 points)', () => {
    // 11,001 one-second steps behind a 15-minute view.
    expect(backfillFor(1_000_000, 1_011_001, 900)).toEqual({ kind: 'reload' });
    expect(backfillFor(1_000_000, 1_000_901, 900)).toEqual({ kind: 'reload' });
  });
  it('has nothing to fill when no step was missed', () => {
    expect(backfillFor(1000, 1000.7, 900)).toEqual({ kind: 'none' });
  });
});
