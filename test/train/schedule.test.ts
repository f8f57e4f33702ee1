import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRateAt, parseSchedule } from '../../src/train/schedule.ts';
import { UserError } from '../../src/errors.ts';

test('cosine schedule starts at the base rate, halves mid-run and ends at zero', () => {
  const s = parseSchedule('cosine');
  assert.equal(learningRateAt(0.1, s, 0, 10), 0.1);
  assert.ok(Math.abs(learningRateAt(0.1, s, 5, 10) - 0.05) < 1e-12);
  assert.ok(Math.abs(learningRateAt(0.1, s, 10, 10)) < 1e-12);
});

test('step schedule multiplies by gamma at each milestone', () => {
  const s = parseSchedule('step:2,4@0.5');
  assert.deepEqual(
    [0, 1.9, 2, 3.5, 4, 9].map((t) => learningRateAt(1, s, t, 10)),
    [1, 1, 0.5, 0.5, 0.25, 0.25],
  );
});

test('bad schedules are user errors', () => {
  assert.throws(() => parseSchedule('linear'), UserError);
  assert.throws(() => parseSchedule('step:0@0.1'), UserError);
  assert.throws(() => parseSchedule('step:3@-1'), UserError);
});
