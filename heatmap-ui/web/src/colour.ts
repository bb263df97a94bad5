// Colour scales for the heatmaps: a perceptual ramp from dark blue to yellow (viridis's
// end points and three stops between), looked up from a 256-entry table so that a tick
// that recolours ten thousand cells does no string work per cell beyond a lookup.

const STOPS: [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

const TABLE: string[] = Array.from({ length: 256 }, (_, i) => {
  const x = (i / 255) * (STOPS.length - 1);
  const k = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - k;
  const c = STOPS[k].map((a, j) => Math.round(a + (STOPS[k + 1][j] - a) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
});

export const EMPTY = '#2a2d35';

/** The colour of `v` on a scale from `min` to `max` (linear), EMPTY for no value. */
export function colourFor(v: number | null | undefined, min: number, max: number): string {
  const i = colourIndex(v, min, max);
  return i < 0 ? EMPTY : TABLE[i];
}

/**
 * Where `v` falls in the 256 colours of the scale, -1 for no value: a canvas that draws
 * many cells groups them by index and sets its fill style once per colour.
 */
export function colourIndex(v: number | null | undefined, min: number, max: number): number {
  if (v === null || v === undefined || !Number.isFinite(v)) return -1;
  const span = max - min;
  const f = span > 0 ? (v - min) / span : 0.5;
  return Math.max(0, Math.min(255, Math.round(f * 255)));
}

/** Colour `i` of the scale (0–255), EMPTY outside it. */
export function colourAt(i: number): string {
  return TABLE[i] ?? EMPTY;
}

/** A colour bar for the legend: `n` colours from low to high. */
export function ramp(n: number): string[] {
  return Array.from({ length: n }, (_, i) => TABLE[Math.round((i / Math.max(1, n - 1)) * 255)]);
}
