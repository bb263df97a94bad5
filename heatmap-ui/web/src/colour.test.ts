import { describe, expect, it } from 'vitest';
import { colourAt, colourFor, colourIndex, EMPTY } from './colour';
import { entityKey } from './format';

describe('colour scale', () => {
  it('indexes values linearly between min and max, -1 for no value', () => {
    expect(colourIndex(0, 0, 10)).toBe(0);
    expect(colourIndex(10, 0, 10)).toBe(255);
    expect(colourIndex(5, 0, 10)).toBe(128);
    expect(colourIndex(-3, 0, 10)).toBe(0);
    expect(colourIndex(7, 7, 7)).toBe(128);
    for (const v of [NaN, Infinity, null, undefined]) expect(colourIndex(v, 0, 1)).toBe(-1);
  });

  it('colourFor is the colour at the index', () => {
    for (const v of [0, 2.5, 9.99, NaN]) {
      const i = colourIndex(v, 0, 10);
      expect(colourFor(v, 0, 10)).toBe(i < 0 ? EMPTY : colourAt(i));
    }
    expect(colourAt(-1)).toBe(EMPTY);
    expect(colourAt(0)).not.toBe(colourAt(255));
  });
});

describe('entity keys', () => {
  it('identify a label set without __name__, whatever the order of its names', () => {
    const a = entityKey({ __name__: 'cpu', node: 'n1', pod: 'p1' });
    expect(a).toBe(entityKey({ pod: 'p1', node: 'n1' }));
    expect(a).toBe(entityKey({ node: 'n1', pod: 'p1', __name__: 'mem' }));
    expect(a).not.toBe(entityKey({ node: 'n1', pod: 'p2' }));
    // No two label sets share a key by running names and values together.
    expect(entityKey({ a: 'b', c: '' })).not.toBe(entityKey({ a: 'bc' }));
    expect(entityKey({})).toBe('');
  });
});
