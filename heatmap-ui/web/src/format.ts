// Value and time formatting shared by the panels.

const SI = ['', 'k', 'M', 'G', 'T', 'P'];
const IEC = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

function trim(n: number): string {
  const a = Math.abs(n);
  const s = a >= 100 ? n.toFixed(0) : a >= 10 ? n.toFixed(1) : n.toFixed(2);
  return s.replace(/\.0+$|(\.\d*?)0+$/, '$1');
}

export function formatValue(v: number | null | undefined, unit = ''): string {
  if (v === null || v === undefined) return '–';
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  switch (unit) {
    case 'bytes': {
      let i = 0;
      let x = v;
      while (Math.abs(x) >= 1024 && i < IEC.length - 1) {
        x /= 1024;
        i++;
      }
      return `${trim(x)} ${IEC[i]}`;
    }
    case 'seconds': {
      const a = Math.abs(v);
      if (a === 0) return '0 s';
      if (a < 1e-3) return `${trim(v * 1e6)} µs`;
      if (a < 1) return `${trim(v * 1e3)} ms`;
      return `${trim(v)} s`;
    }
    case 'percent':
      return `${trim(v * 100)}%`;
    default: {
      let i = 0;
      let x = v;
      while (Math.abs(x) >= 1000 && i < SI.length - 1) {
        x /= 1000;
        i++;
      }
      const s = `${trim(x)}${SI[i]}`;
      return unit === 'ops' ? `${s}/s` : s;
    }
  }
}

export function formatTime(sec: number): string {
  return new Date(sec * 1000).toLocaleTimeString([], { hour12: false });
}

/** `{a="1", b="2"}` as Prometheus prints a label set, `__name__` in front. */
export function formatMetric(m: Record<string, string>): string {
  const name = m.__name__ ?? '';
  const rest = Object.entries(m)
    .filter(([k]) => k !== '__name__')
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
  return rest ? `${name}{${rest}}` : name || '{}';
}

/** Legend template: `{{label}}` replaced by the series' value. */
export function legendFor(m: Record<string, string>, template?: string): string {
  if (!template) return formatMetric(m);
  return template.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, k: string) => m[k] ?? '');
}

/** Prometheus durations for the range picker: 5m, 1h, 1d… to seconds. */
export function parseDuration(s: string): number | null {
  const re = /(\d+)(ms|s|m|h|d|w|y)/g;
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  let total = 0;
  let matched = '';
  for (const m of s.matchAll(re)) {
    total += Number(m[1]) * unit[m[2]];
    matched += m[0];
  }
  return matched === s && total > 0 ? total : null;
}

/**
 * The range query grid ending now: `end` and `start` whole multiples of `step`, so that
 * the live ticks (also on whole multiples of the step) are its next columns.
 */
export function gridFor(rangeSec: number, nowSec: number): { start: number; end: number; step: number } {
  const step = stepFor(rangeSec);
  const end = Math.floor(nowSec / step) * step;
  return { start: end - Math.ceil(rangeSec / step) * step, end, step };
}

/** The step a range needs for at most ~900 points, at least 1 s (the live resolution). */
export function stepFor(rangeSec: number): number {
  return Math.max(1, Math.ceil(rangeSec / 900));
}

/** Stable key of a label set. */
export function metricKey(m: Record<string, string>): string {
  return JSON.stringify(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The identity of an entity: its labels without `__name__`, in name order, as one
 * string. Computed for every point of every tick (10,000 a second on a large heatmap), so
 * it copies nothing and sorts only when the names do not already come in order (they do
 * from Tianshu, whose label sets are sorted).
 */
export function entityKey(m: Record<string, string>): string {
  let names = Object.keys(m);
  for (let i = 1; i < names.length; i++) {
    if (names[i - 1] > names[i]) {
      names = [...names].sort();
      break;
    }
  }
  let key = '';
  for (const n of names) if (n !== '__name__') key += `${n}\u0000${m[n]}\u0001`;
  return key;
}
