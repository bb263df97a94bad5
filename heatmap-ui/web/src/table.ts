// The rows of the explorer's table view, as Prometheus's table shows an instant query's
// answer: one row per series with its value, or for a range vector (a matrix) every
// sample of the series as `value @timestamp`, oldest first.

import type { QueryData, RangeSeries, InstantSample } from './api';
import { formatMetric } from './format';

export interface TableRow {
  /** The series' label set, or the result type for a scalar or a string. */
  metric: string;
  /** One line per value: the value alone (vector, scalar, string) or `value @time`. */
  values: string[];
}

export function tableRows(d: QueryData<unknown>): TableRow[] {
  switch (d.resultType) {
    case 'vector':
      return (d.result as InstantSample[]).map((s) => ({ metric: formatMetric(s.metric), values: [s.value[1]] }));
    case 'matrix':
      return (d.result as RangeSeries[]).map((s) => ({
        metric: formatMetric(s.metric),
        // Timestamps as the API sends them: seconds, up to millisecond digits.
        values: s.values.map(([t, v]) => `${v} @${t}`),
      }));
    case 'scalar':
    case 'string':
      return [{ metric: d.resultType, values: [(d.result as [number, string])[1]] }];
    default:
      return [{ metric: `unknown result type ${JSON.stringify(d.resultType)}`, values: [] }];
  }
}
