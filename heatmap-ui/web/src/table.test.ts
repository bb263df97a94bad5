import { describe, expect, it } from 'vitest';
import { tableRows } from './table';

describe('table rows', () => {
  it('show a vector as one row per series with its value', () => {
    const rows = tableRows({
      resultType: 'vector',
      result: [
        { metric: { __name__: 'up', job: 'a' }, value: [1700000000, '1'] },
        { metric: { job: 'b' }, value: [1700000000, '0'] },
      ],
    });
    expect(rows).toEqual([
      { metric: 'up{job="a"}', values: ['1'] },
      { metric: '{job="b"}', values: ['0'] },
    ]);
  });
  it('show a range vector as each series with every sample and its time, oldest first', () => {
    const rows = tableRows({
      resultType: 'matrix',
      result: [
        { metric: { __name__: 'x', pod: 'p1' }, values: [[1700000000.5, '1'], [1700000001.5, '2.5']] },
        { metric: { __name__: 'x', pod: 'p2' }, values: [[1700000001, '3']] },
      ],
    });
    expect(rows).toEqual([
      { metric: 'x{pod="p1"}', values: ['1 @1700000000.5', '2.5 @1700000001.5'] },
      { metric: 'x{pod="p2"}', values: ['3 @1700000001'] },
    ]);
  });
  it('show a scalar or a string as one row named by its type', () => {
    expect(tableRows({ resultType: 'scalar', result: [1700000000, '42'] })).toEqual([{ metric: 'scalar', values: ['42'] }]);
    expect(tableRows({ resultType: 'string', result: [1700000000, 'hi'] })).toEqual([{ metric: 'string', values: ['hi'] }]);
  });
  it('show an empty answer as no rows', () => {
    expect(tableRows({ resultType: 'matrix', result: [] })).toEqual([]);
  });
});
