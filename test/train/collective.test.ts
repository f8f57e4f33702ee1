import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectiveBuffer, joinCollective } from '../../src/train/collective.ts';
import { Worker } from 'node:worker_threads';

test('a collective of one rank leaves the values as they are and counts the calls', () => {
  const c = joinCollective(collectiveBuffer(1, 4), 0, 1);
  const v = Float64Array.from([1, 2, 3]);
  c.allReduce(v);
  assert.deepEqual(Array.from(v), [1, 2, 3]);
  assert.equal(c.calls, 1);
  assert.throws(
    () => c.allReduce(new Float64Array(5)),
    /all-reduce of 5 values; the collective holds 4 per rank/,
  );
});

test('a rank alone at the barrier gives up after its timeout; after an abort every rank throws at once', () => {
  const buf = collectiveBuffer(2, 4);
  const lonely = joinCollective(buf, 0, 2, 50);
  const t0 = Date.now();
  assert.throws(
    () => lonely.allReduce(Float64Array.from([1])),
    /training worker 0 waited 0.05 s for the others/,
  );
  assert.ok(Date.now() - t0 >= 45, 'it waited');
  const buf2 = collectiveBuffer(2, 4);
  joinCollective(buf2, 1, 2).abort();
  const t1 = Date.now();
  assert.throws(
    () => joinCollective(buf2, 0, 2, 60_000).allReduce(Float64Array.from([1])),
    /another training worker failed during this step/,
  );
  assert.ok(Date.now() - t1 < 1000, 'no wait after an abort');
});

test('three worker threads: every one of 1,500 all-reduces gives each rank the sum, ranks arriving and leaving at different moments', async () => {
  const size = 3;
  const calls = 1500;
  const length = 4096;
  const buf = collectiveBuffer(size, length);
  // Each thread registers tsx before loading the TypeScript worker (workers do not inherit --import).
  const tsx = import.meta.resolve('tsx/esm/api');
  const file = new URL('./collectiveTestWorker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(file)}); });`;
  const outs = await Promise.all(
    Array.from(
      { length: size },
      (_, rank) =>
        new Promise<{ wrong: number; calls: number }>((ok, no) => {
          const w = new Worker(code, { eval: true, workerData: { buf, rank, size, calls, length } });
          w.once('message', ok);
          w.once('error', no);
          w.once('exit', (c) => no(new Error(`rank ${rank} exited (${c}) without answering`)));
        }),
    ),
  );
  for (const [rank, o] of outs.entries()) {
    assert.equal(o.calls, calls, `rank ${rank} made every call`);
    assert.equal(o.wrong, 0, `rank ${rank}: ${o.wrong} of ${calls * length} sums wrong`);
  }
});
