import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairedRatios, roundsText } from '../../bench/suite/ratios.ts';
import type { TorchModelRun } from '../../bench/suite/torch.ts';

const run = (input_grad: number): TorchModelRun => ({
  model: 'darknet-tiny',
  threads: 1,
  engine: 'pytorch',
  batch: 8,
  imagesPerSec: { input_grad },
  peakRssMB: 600,
  wallSec: 40,
});

test("per-round ratios pair advlens's round r with torch's round r (last stop's darknet rounds, by hand)", () => {
  const r = pairedRatios([25.2, 26.5, 15.7], [run(31.9), run(18.4), run(33.2)], 'input_grad');
  assert.deepEqual(
    r.map((v) => +v.toFixed(4)),
    [+(25.2 / 31.9).toFixed(4), +(26.5 / 18.4).toFixed(4), +(15.7 / 33.2).toFixed(4)],
  );
  assert.equal(roundsText(r), '0.79 1.44 0.47');
  // No pairing: one round, unequal counts, a workload torch lacks, a round with no figure.
  assert.deepEqual(pairedRatios([25.2], [run(31.9)], 'input_grad'), []);
  assert.deepEqual(pairedRatios([25.2, 26.5], [run(31.9)], 'input_grad'), []);
  assert.deepEqual(pairedRatios([25.2, 26.5], [run(31.9), run(18.4)], null), []);
  assert.deepEqual(pairedRatios([25.2, 26.5], [run(31.9), run(0)], 'input_grad'), []);
  assert.deepEqual(pairedRatios(undefined, [run(31.9), run(18.4)], 'input_grad'), []);
  assert.equal(roundsText([]), '-');
});
