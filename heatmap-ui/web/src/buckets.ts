// Classic histogram buckets: Prometheus exposes cumulative counts per upper bound `le`
// (each bucket counts every observation <= le). A heatmap shows how many fell *into* each
// bucket, so the cumulative values are de-accumulated: bucket i = cum[i] - cum[i-1].

/** One bucket as queried: its `le` label and its cumulative value (a rate or a count). */
export interface CumulativeBucket {
  le: string;
  value: number;
}

/** One de-accumulated bucket: (lower, upper] and what fell into it. */
export interface Bucket {
  lower: number;
  upper: number;
  /** The `le` text, for labels ("+Inf" stays readable). */
  le: string;
  value: number;
}

/** Parses an `le` value as Prometheus writes it ("0.5", "1e-3", "+Inf"); NaN if not a number. */
export function parseLe(le: string): number {
  if (le === '+Inf' || le === 'Inf' || le === '+inf') return Infinity;
  return Number(le);
}

/**
 * Sorts buckets by upper bound and de-accumulates them. Buckets whose `le` does not parse
 * are dropped. A bucket smaller than the one before it (a counter reset seen by only some
 * buckets, or rate's extrapolation) would be negative: it is clamped to 0, as Grafana's
 * heatmap does, rather than drawn as a negative count.
 */
export function deaccumulate(cumulative: CumulativeBucket[]): Bucket[] {
  const sorted = cumulative
    .map((b) => ({ ...b, upper: parseLe(b.le) }))
    .filter((b) => !Number.isNaN(b.upper))
    .sort((a, b) => a.upper - b.upper);
  const out: Bucket[] = [];
  let prevUpper = 0;
  let prevCum = 0;
  for (let i = 0; i < sorted.length; i++) {
    const b = sorted[i];
    // Two series with the same le (e.g. "1" and "1.0") are one bucket: keep the first.
    if (i > 0 && b.upper === sorted[i - 1].upper) continue;
    const v = Number.isFinite(b.value) ? b.value : 0;
    const lower = i === 0 ? (b.upper > 0 ? 0 : -Infinity) : prevUpper;
    out.push({ lower, upper: b.upper, le: b.le, value: Math.max(0, v - prevCum) });
    prevUpper = b.upper;
    prevCum = Math.max(prevCum, v);
  }
  return out;
}

/**
 * De-accumulates a whole heatmap: `series` maps each `le` to its values per time column
 * (null where the bucket has no value at that time). Returns the bucket bounds (rows) and
 * per column the de-accumulated values (null where the column has no data at all).
 */
export function deaccumulateColumns(
  series: Map<string, (number | null)[]>,
  columns: number,
): { rows: { lower: number; upper: number; le: string }[]; cells: (number | null)[][] } {
  const les = [...series.keys()]
    .filter((le) => !Number.isNaN(parseLe(le)))
    .sort((a, b) => parseLe(a) - parseLe(b));
  const unique = les.filter((le, i) => i === 0 || parseLe(le) !== parseLe(les[i - 1]));
  const rows = deaccumulate(unique.map((le) => ({ le, value: 0 }))).map(({ lower, upper, le }) => ({
    lower,
    upper,
    le,
  }));
  const cells: (number | null)[][] = [];
  for (let c = 0; c < columns; c++) {
    const cum: CumulativeBucket[] = [];
    for (const le of unique) {
      const v = series.get(le)?.[c];
      if (v !== null && v !== undefined) cum.push({ le, value: v });
    }
    if (cum.length === 0) {
      cells.push(unique.map(() => null));
      continue;
    }
    const byLe = new Map(deaccumulate(cum).map((b) => [b.le, b.value]));
    cells.push(unique.map((le) => byLe.get(le) ?? null));
  }
  return { rows, cells };
}
