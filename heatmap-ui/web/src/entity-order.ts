// The order of an entity heatmap's cells: by the `group_by` label's value, then by the
// `sort_by` label's, then by the whole label set, each in natural order (`pod-2` before
// `pod-10`), so that a layout reads like the list of pods it shows. Pure: no DOM.

export interface Labelled {
  /** Stable key of the label set (see `entityKey`). */
  key: string;
  metric: Record<string, string>;
}

const natural = (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true });

/** The group a cell belongs to: its `groupBy` label's value, `''` without one. */
export function groupOf(e: Labelled, groupBy?: string): string {
  return groupBy ? (e.metric[groupBy] ?? '') : '';
}

/** A comparator for `Array.prototype.sort` over cells. */
export function compareEntities(groupBy?: string, sortBy?: string): (a: Labelled, b: Labelled) => number {
  return (a, b) =>
    natural(groupOf(a, groupBy), groupOf(b, groupBy)) ||
    (sortBy ? natural(a.metric[sortBy] ?? '', b.metric[sortBy] ?? '') : 0) ||
    natural(a.key, b.key);
}
