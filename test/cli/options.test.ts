import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNumber, positiveInt, positiveNumber } from '../../src/cli/options.ts';
import { UserError } from '../../src/errors.ts';

test('numbers and fractions parse; junk does not', () => {
  assert.equal(parseNumber('8/255'), 8 / 255);
  assert.equal(parseNumber('0.3'), 0.3);
  assert.equal(parseNumber('1e-3'), 0.001);
  assert.equal(parseNumber('.5'), 0.5);
  assert.equal(parseNumber('abc'), null);
  assert.equal(parseNumber('3x'), null);
  assert.equal(parseNumber(''), null);
});

test('positive options reject zero, negatives and non-numbers with a user error', () => {
  assert.equal(positiveInt('--epochs')('3'), 3);
  for (const bad of ['0', '-1', '2.5', 'three', ''])
    assert.throws(() => positiveInt('--epochs')(bad), UserError);
  assert.equal(positiveNumber('--lr')('1e-3'), 0.001);
  assert.throws(() => positiveNumber('--lr')('-0.1'), UserError);
  assert.throws(() => positiveNumber('--lr')('0'), UserError);
  assert.equal(positiveNumber('--momentum', true)('0'), 0);
});
