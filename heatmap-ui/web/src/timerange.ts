// The time arithmetic of the explorer's choice of range and end: which seconds the x axis
// spans, the query grid that covers them, what a drag over the graph zooms to, and how
// the choice is written in a URL and in a datetime-local box. Pure functions of seconds,
// so that the views only wire them to the page.

import { parseDuration, stepFor } from './format';

/** The ranges the pickers offer. */
export const RANGES = ['1m', '5m', '15m', '30m', '1h', '3h', '12h', '1d'];

/** What the user chose: a duration, and its end (`null` while it is "now"). */
export interface TimeChoice {
  range: number;
  end: number | null;
}

/** A view's x axis (`from`..`to`, exactly the chosen range) and the grid that fills it. */
export interface TimeWindow {
  from: number;
  to: number;
  /** Query grid: whole multiples of `step` inside `from`..`to`. */
  start: number;
  end: number;
  step: number;
}

/**
 * The window of `choice` at `nowSec`. Ending "now", it ends on the newest whole step, the
 * time of the live tick that extends it; an absolute end is taken as given (whole seconds).
 */
export function windowFor(choice: TimeChoice, nowSec: number): TimeWindow {
  const step = stepFor(choice.range);
  const to = choice.end ?? Math.floor(nowSec / step) * step;
  const from = to - choice.range;
  return { from, to, start: Math.ceil(from / step) * step, end: Math.floor(to / step) * step, step };
}

/** The shortest range a zoom gives: one second, the finest step there is. */
export const MIN_RANGE = 1;

/** The absolute range a drag from `fromSec` to `toSec` over the graph selects. */
export function zoomTo(fromSec: number, toSec: number): { range: number; end: number } {
  const lo = Math.min(fromSec, toSec);
  const hi = Math.max(fromSec, toSec);
  const end = Math.round(hi);
  return { end, range: Math.max(MIN_RANGE, end - Math.round(lo)) };
}

/** A duration as Prometheus writes one: `1h`, `2m30s`, `1d12h`. */
export function formatDuration(sec: number): string {
  let rest = Math.max(0, Math.round(sec));
  if (rest === 0) return '0s';
  let out = '';
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Seconds as a `datetime-local` input's value, in the browser's time zone. */
export function toLocalInput(sec: number): string {
  const d = new Date(sec * 1000);
  return (
    `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/**
 * A `datetime-local` value (local time, seconds optional) as whole seconds; `null` for an
 * empty box ("now"), `undefined` for what is not such a time.
 */
export function fromLocalInput(value: string): number | null | undefined {
  if (value.trim() === '') return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/.exec(value.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0));
  const date = new Date(y, mo - 1, d, h, mi, s);
  // Date rolls 31 February over into March; such a date is not what was typed.
  if (date.getMonth() !== mo - 1 || date.getDate() !== d) return undefined;
  return Math.floor(date.getTime() / 1000);
}

/** The choice a URL's `range` and `end` parameters name (15 minutes ending now if none). */
export function choiceFromParams(params: URLSearchParams): TimeChoice {
  const range = Math.max(MIN_RANGE, Math.round(parseDuration(params.get('range') ?? '') ?? 900));
  const end = Number(params.get('end'));
  return { range, end: params.has('end') && Number.isFinite(end) && end > 0 ? Math.floor(end) : null };
}

/** The URL parameters of `c`, the inverse of `choiceFromParams`. */
export function choiceParams(c: TimeChoice): string {
  return `range=${formatDuration(c.range)}${c.end === null ? '' : `&end=${c.end}`}`;
}
