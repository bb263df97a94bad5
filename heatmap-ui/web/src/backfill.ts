// What a live view fetches after its stream was away: a dropped connection, or the time
// its panels took to load before the first tick. Pure arithmetic of seconds.

import { stepFor } from './format';

/** What a reconnect does about the ticks it missed. */
export type Backfill = { kind: 'fill'; from: number; to: number; step: number } | { kind: 'reload' } | { kind: 'none' };

/**
 * The backfill after a reconnect, `lastSeen` being the last tick received: the steps
 * `[max(lastSeen, end − range), end]` of the view's grid, so that however long the outage,
 * one range query asks for at most the view's points (the server refuses more than
 * 11,000). A gap longer than the view leaves nothing of it worth keeping: reload it.
 */
export function backfillFor(lastSeen: number, nowSec: number, range: number): Backfill {
  const step = stepFor(range);
  const end = Math.floor(nowSec / step) * step;
  const viewStart = end - range;
  if (lastSeen < viewStart) return { kind: 'reload' };
  const from = Math.ceil(Math.max(lastSeen, viewStart) / step) * step;
  if (from >= end) return { kind: 'none' };
  return { kind: 'fill', from, to: end, step };
}
