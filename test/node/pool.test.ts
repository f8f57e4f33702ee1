import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initNodeBackend } from '../../src/node/backend.ts';
import { createPool, withPool, checkWorkers, type WorkerPool } from '../../src/node/pool.ts';
import { UserError } from '../../src/errors.ts';

await initNodeBackend('wasm');
const TASKS = new URL('./poolTestTasks.ts', import.meta.url);

test('a pool runs tasks on worker threads with their own wasm backend and moves buffers both ways', async () => {
  await withPool(
    2,
    async (pool) => {
      assert.ok(pool);
      const xs = [0, 1, 2, 3].map((k) => Float32Array.from({ length: 1000 }, (_, i) => i + k));
      const rs = await Promise.all(
        xs.map((x) =>
          pool.run<{ y: Float32Array; worker: number; backend: string }>('double', { x }, [x.buffer]),
        ),
      );
      for (const [k, r] of rs.entries()) {
        assert.equal(r.backend, 'wasm');
        assert.equal(r.y[10], 2 * (10 + k));
      }
      assert.equal(xs[0].length, 0, 'the input buffer was moved, not copied');
      assert.deepEqual(new Set(rs.map((r) => r.worker)), new Set([0, 1]), 'both workers took tasks');
      assert.deepEqual(await pool.broadcast('memory', null), [0, 0], 'no tensors left in the workers');
    },
    { taskModules: [TASKS] },
  );
});

test('errors in a worker come back as errors: a UserError stays one, an internal error keeps its stack', async () => {
  await withPool(
    2,
    async (pool) => {
      assert.ok(pool);
      await assert.rejects(pool.run('userError', null), (e: Error) => {
        assert.ok(e instanceof UserError);
        assert.equal(e.message, 'bad option --x 3; use 1 or 2');
        return true;
      });
      await assert.rejects(pool.run('internalError', null), (e: Error) => {
        assert.ok(!(e instanceof UserError));
        assert.match(e.message, /something broke \(in pool worker \d, task internalError\)/);
        assert.match(e.stack ?? '', /poolTestTasks\.ts/);
        return true;
      });
      await assert.rejects(pool.run('nope', null), /unknown pool task 'nope'/);
      // The pool still works after task errors.
      assert.equal(typeof (await pool.run('sleep', { ms: 1 })), 'number');
    },
    { taskModules: [TASKS] },
  );
});

test('a worker crash rejects the pending tasks with a clear message and fails the pool', async () => {
  const pool: WorkerPool = createPool({ workers: 2, taskModules: [TASKS] });
  try {
    const slow = pool.runOn(1, 'sleep', { ms: 5000 });
    await assert.rejects(
      pool.runOn(0, 'crash', null),
      /pool worker 0 stopped unexpectedly \(exit code 3\); its task 'crash' did not finish/,
    );
    await assert.rejects(slow, /pool worker 0 stopped unexpectedly/);
    await assert.rejects(pool.run('sleep', { ms: 1 }), /pool worker 0 stopped unexpectedly/);
  } finally {
    await pool.close();
  }
});

test('withPool: 1 worker starts no thread; the pool is closed after an error', async () => {
  assert.equal(await withPool(1, async (pool) => pool), null);
  let kept: WorkerPool | null = null;
  await assert.rejects(
    withPool(2, async (pool) => {
      kept = pool;
      throw new UserError('stop');
    }),
    /stop/,
  );
  await assert.rejects(kept!.run('memory', null), /closed/);
  assert.throws(() => checkWorkers(0), /workers must be a whole number >= 1 \(got 0\)/);
  assert.throws(() => checkWorkers(1.5), UserError);
});

test('an idle pool does not keep a process alive, and a forgotten one does not hang it', () => {
  const code = `
    import { createPool } from './src/node/pool.ts';
    const pool = createPool({ workers: 2 });
    console.log(await pool.run('memory', null));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: new URL('../../', import.meta.url),
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '0');
});

test('a pool closed after its workers became ready, before the main thread read their messages, exits', () => {
  // A command that starts the pool, then loads models (the main thread busy for seconds) and finds
  // nothing to measure closes the pool with the workers' 'ready' messages still unread: reading them
  // during close() must not unref the workers being terminated (exit code 13: unsettled top-level await).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-pool-'));
  const marks = path.join(dir, 'marks');
  fs.mkdirSync(marks);
  // A task module that a worker loads just before it says it is ready: it leaves a file per worker.
  const mark = path.join(dir, 'mark.mjs');
  fs.writeFileSync(
    mark,
    `import fs from 'node:fs';
    import { threadId } from 'node:worker_threads';
    fs.writeFileSync(${JSON.stringify(marks)} + '/' + threadId, '');
    export const TASKS = {};\n`,
  );
  const main = path.join(dir, 'main.mjs');
  fs.writeFileSync(
    main,
    `import fs from 'node:fs';
    import { createPool } from ${JSON.stringify(new URL('../../src/node/pool.ts', import.meta.url).href)};
    const pool = createPool({ workers: 2, taskModules: [${JSON.stringify(mark)}] });
    // Blocked (not spinning: the workers need the cores), as while loading models; the ready
    // messages land unread.
    const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    const t0 = Date.now();
    while (fs.readdirSync(${JSON.stringify(marks)}).length < 2 && Date.now() - t0 < 150000) nap(50);
    nap(300);
    await pool.close();
    console.log('closed', fs.readdirSync(${JSON.stringify(marks)}).length);\n`,
  );
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', main], {
      cwd: new URL('../../', import.meta.url),
      encoding: 'utf8',
      timeout: 240_000,
    });
    assert.equal(r.status, 0, `exit code ${r.status}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), 'closed 2', 'both workers had loaded their task modules before close()');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
