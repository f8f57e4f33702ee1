import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ownArray } from '../../bench/suite/poolTasks.ts';

test('ownArray: an array owning its whole buffer is returned as is, so it can be transferred', () => {
  const d = new Float32Array([1, 2, 3]);
  const a = ownArray(d);
  assert.equal(a.buffer, d.buffer);
  assert.deepEqual([...a], [1, 2, 3]);
});

test('ownArray: a view of part of a buffer (or of a shared one) is copied, values kept', () => {
  const big = new Float32Array([9, 1, 2, 3, 9]);
  const view = big.subarray(1, 4);
  const a = ownArray(view);
  assert.notEqual(a, view);
  assert.deepEqual([...a], [1, 2, 3]);
  assert.equal(a.buffer.byteLength, 12);
  const shared = new Float32Array(new SharedArrayBuffer(8));
  shared.set([4, 5]);
  const b = ownArray(shared);
  assert.ok(!(b.buffer instanceof SharedArrayBuffer));
  assert.deepEqual([...b], [4, 5]);
});
