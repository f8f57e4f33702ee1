import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initNodeBackend } from '../../src/node/backend.ts';
import { fuzzCheckpointLoader, loadCheckpointTarget, seedCheckpoint } from './checkpointFuzz.ts';

await initNodeBackend('wasm');

test('the checkpoint fuzz target loads the unmutated checkpoint', async () => {
  assert.equal(await loadCheckpointTarget(await seedCheckpoint()), 'loaded');
});

test('mutated checkpoint files either load or are refused with one UserError line (300 inputs)', async () => {
  const { loaded, refused } = await fuzzCheckpointLoader(300);
  assert.equal(loaded + refused, 300);
  assert.ok(refused > 200, `most mutations damage the checkpoint: ${refused} refused, ${loaded} loaded`);
});
