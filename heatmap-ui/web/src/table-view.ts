// The explorer's table view: an instant query's answer at the evaluation time, one row
// per series (`table.ts` makes the rows; a range vector's row holds every sample).

import type { QueryData } from './api';
import { tableRows } from './table';

export function renderTable(el: HTMLElement, data: QueryData<unknown>, at: number): void {
  const when = document.createElement('div');
  when.className = 'eval-time';
  when.textContent = `Evaluated at ${new Date(at * 1000).toLocaleString([], { hour12: false })} (${at})`;
  const table = document.createElement('table');
  const rows = tableRows(data);
  for (const row of rows) {
    const tr = table.insertRow();
    tr.insertCell().textContent = row.metric;
    const cell = tr.insertCell();
    cell.className = 'values';
    for (const v of row.values) {
      const line = document.createElement('div');
      line.textContent = v;
      cell.append(line);
    }
  }
  if (rows.length === 0) table.insertRow().insertCell().textContent = 'Empty query result';
  // What is shown, for a reader of the page (and its tests).
  el.dataset.time = String(at);
  el.dataset.resultType = data.resultType;
  el.append(when, table);
}
