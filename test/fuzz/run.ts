/**
 * `npm run fuzz [-- --runs N] [target ...]`: runs each fuzz target (test/fuzz/targets.ts) through
 * N mutated inputs (default 10,000) with a random seed, and prints per target how many inputs
 * loaded and how many were refused with a user error. Exits 1 on the first failure, printing the
 * seed and the shrunk counterexample to replay it (`--seed S`).
 */
import fc from 'fast-check';
import { FUZZ_TARGETS, newCounts, prepareTargets, property } from './targets.ts';

const args = process.argv.slice(2);
const opt = (name: string): number | undefined => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  return v;
};
const runs = opt('--runs') ?? 10_000;
const seed = opt('--seed') ?? Date.now() % 2 ** 31;
const chosen = args.length ? FUZZ_TARGETS.filter((t) => args.includes(t.name)) : FUZZ_TARGETS;
const unknown = args.filter((a) => !FUZZ_TARGETS.some((t) => t.name === a));
if (unknown.length) {
  console.error(
    `unknown fuzz target(s) ${unknown.join(', ')}; choose from ${FUZZ_TARGETS.map((t) => t.name).join(', ')}`,
  );
  process.exit(2);
}

await prepareTargets();
console.log(`fuzz: ${runs} inputs per target, seed ${seed}`);
console.log('target            runs   loaded  user-errors  slowest-ms  seconds');
let failed = false;
for (const t of chosen) {
  const counts = newCounts();
  const t0 = performance.now();
  const out = await fc.check(property(t, counts), { numRuns: runs, seed, includeErrorInReport: true });
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(
    `${t.name.padEnd(16)} ${String(counts.runs).padStart(6)} ${String(counts.loaded).padStart(8)} ${String(counts.userErrors).padStart(12)} ${counts.slowestMs.toFixed(1).padStart(11)} ${s.padStart(8)}`,
  );
  if (out.failed) {
    failed = true;
    console.log(fc.defaultReportMessage(out));
  }
}
process.exit(failed ? 1 : 0);
