/**
 * Property-based tests of every loader of untrusted files (test/fuzz/targets.ts): a few hundred
 * mutated inputs each, bounded to a few seconds; `npm run fuzz` runs many more.
 */
import { test, before } from 'node:test';
import fc from 'fast-check';
import { FUZZ_TARGETS, newCounts, prepareTargets, property } from './targets.ts';

before(prepareTargets);

for (const t of FUZZ_TARGETS) {
  test(`mutated ${t.name} input either loads or is a one-line user error`, async () => {
    const counts = newCounts();
    await fc.assert(property(t, counts), {
      numRuns: t.testRuns ?? 200,
      interruptAfterTimeLimit: 8000,
      seed: 15,
      includeErrorInReport: true,
    });
  });
}
