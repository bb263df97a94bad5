import { describe, expect, it } from 'vitest';
import { compareEntities, groupOf } from './entity-order';
import { entityKey } from './format';

const cell = (pod: string, node: string, zone = 'a') => {
  const metric = { pod, node, zone };
  return { key: entityKey(metric), metric };
};
const pods = (cells: ReturnType<typeof cell>[]) => cells.map((c) => c.metric.pod);

describe('entity order', () => {
  const cells = [cell('pod-10', 'node-1'), cell('pod-2', 'node-10'), cell('pod-1', 'node-2'), cell('pod-3', 'node-1'), cell('pod-20', 'node-2')];

  it('groups by a label, then sorts by another, both in natural order', () => {
    const sorted = [...cells].sort(compareEntities('node', 'pod'));
    expect(sorted.map((c) => groupOf(c, 'node'))).toEqual(['node-1', 'node-1', 'node-2', 'node-2', 'node-10']);
    expect(pods(sorted)).toEqual(['pod-3', 'pod-10', 'pod-1', 'pod-20', 'pod-2']);
  });

  it('sorts by the label set without a sort label, and in one group without a group label', () => {
    expect(pods([...cells].sort(compareEntities(undefined, 'pod')))).toEqual(['pod-1', 'pod-2', 'pod-3', 'pod-10', 'pod-20']);
    expect(groupOf(cells[0])).toBe('');
    const byKey = [...cells].sort(compareEntities());
    expect(byKey.map((c) => c.key)).toEqual([...cells.map((c) => c.key)].sort((a, b) => a.localeCompare(b, undefined, { numeric: true })));
  });

  it('puts cells missing the labels first, in a group of their own', () => {
    const odd = { key: 'x', metric: { pod: 'pod-0' } };
    const sorted = [...cells, odd].sort(compareEntities('node', 'pod'));
    expect(sorted[0]).toBe(odd);
    expect(groupOf(odd, 'node')).toBe('');
  });
});
