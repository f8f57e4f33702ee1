/**
 * A worker thread of test/train/collective.test.ts: `calls` all-reduces of `length` values as rank
 * `rank` of `size`, pausing a different, varying while before each (so that the ranks arrive, sum
 * and leave at different moments); posts how many sums were not the expected ones.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { joinCollective } from '../../src/train/collective.ts';

const p = workerData as { buf: SharedArrayBuffer; rank: number; size: number; calls: number; length: number };
/** Rank r's value i of all-reduce `call`. */
const valueOf = (call: number, r: number, i: number) => call * 1000 + r * 10 + (i % 7);
const c = joinCollective(p.buf, p.rank, p.size, 30_000);
const v = new Float64Array(p.length);
let wrong = 0;
for (let call = 0; call < p.calls; call++) {
  const until = performance.now() + ((call * 7 + p.rank * 13) % 11) * 0.01;
  while (performance.now() < until);
  for (let i = 0; i < p.length; i++) v[i] = valueOf(call, p.rank, i);
  c.allReduce(v);
  for (let i = 0; i < p.length; i++) {
    let want = 0;
    for (let r = 0; r < p.size; r++) want += valueOf(call, r, i);
    if (v[i] !== want) wrong++;
  }
}
parentPort!.postMessage({ wrong, calls: c.calls });
