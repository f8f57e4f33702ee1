/**
 * A bounded load test on loopback: 100 concurrent clients on the read endpoints for 10 s while a
 * pathways job runs, against a server in a child process. No error, no timeout, no answer other than
 * 2xx; the server's memory (RSS and JS heap after a full GC) after the load within 20% of before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import autocannon from 'autocannon';
import { childServer, events, submit, uploadFiles } from './live.ts';

test('100 clients on the read endpoints for 10 s while a job runs: no error, memory bounded', async () => {
  const srv = await childServer();
  const { base, memory } = srv;
  try {
    const f = path.join(os.tmpdir(), `advlens-load-${process.pid}.png`);
    const px = Buffer.alloc(28 * 28);
    for (let y = 4; y < 24; y++) for (let x = 10; x < 14; x++) px[y * 28 + x] = 255;
    fs.writeFileSync(
      f,
      await sharp(px, { raw: { width: 28, height: 28, channels: 1 } })
        .png()
        .toBuffer(),
    );
    const [img] = await uploadFiles(base, [f]);
    fs.rmSync(f);
    // A short job first (the worker started, the model loaded), then one that outlasts the load.
    const warm = await submit(base, { kind: 'attack', model: 'mnist-gap-cnn', images: [img], strength: 0.1 });
    await events(base, warm.id);
    const job = await submit(base, {
      kind: 'pathways',
      model: 'mnist-gap-cnn',
      images: [img],
      target: 5,
      strengths: [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4],
      steps: 400,
    });
    const requests = [
      { path: '/api/health' },
      { path: '/api/models' },
      { path: '/api/models/mnist-gap-cnn' },
      { path: '/api/attacks' },
      { path: '/api/explainers' },
      { path: `/api/images/${img}` },
      { path: `/api/jobs/${job.id}` },
    ];
    await autocannon({ url: base, connections: 20, duration: 2, requests }); // warm-up
    const before = await memory();
    const r = await autocannon({ url: base, connections: 100, duration: 10, timeout: 10, requests });
    const state = (await (await fetch(`${base}/api/jobs/${job.id}`)).json()) as { state: string };
    const after = await memory();
    await fetch(`${base}/api/jobs/${job.id}`, { method: 'DELETE' });
    const mb = (v: number) => (v / 1048576).toFixed(1);
    console.log(
      `# load: ${r.requests.total} requests in ${r.duration} s (${r.requests.average.toFixed(0)}/s), latency p50 ${r.latency.p50} ms p99 ${r.latency.p99} ms max ${r.latency.max} ms; errors ${r.errors}, timeouts ${r.timeouts}, non-2xx ${r.non2xx}; job ${state.state} at the end`,
    );
    console.log(
      `# server memory before/after: rss ${mb(before.rss)}/${mb(after.rss)} MB (${((100 * (after.rss - before.rss)) / before.rss).toFixed(1)}%), heap used ${mb(before.heapUsed)}/${mb(after.heapUsed)} MB (${((100 * (after.heapUsed - before.heapUsed)) / before.heapUsed).toFixed(1)}%)`,
    );
    assert.equal(r.errors, 0);
    assert.equal(r.timeouts, 0);
    assert.equal(r.non2xx, 0);
    assert.ok(r.requests.total > 1000, `only ${r.requests.total} requests answered`);
    assert.equal(state.state, 'running', 'the job ran through the load');
    assert.ok(Math.abs(after.rss - before.rss) / before.rss < 0.2, 'rss within 20%');
    assert.ok(Math.abs(after.heapUsed - before.heapUsed) / before.heapUsed < 0.2, 'heap within 20%');
  } finally {
    await srv.stop();
  }
});
