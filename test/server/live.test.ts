/**
 * The explorer server over a real socket: the pathways job streams its partial results per strength
 * over server-sent events, and /api/health keeps answering while the job computes (jobs run on the
 * worker pool, not on the event loop). With ../shared: darknet tiny on cat.jpg, the first strength's
 * graph within 60 s.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CAT, NO_SHARED } from './helpers.ts';
import { events, healthWhile, live, pct, submit, uploadFiles } from './live.ts';

const srv = await live();
after(() => srv.close());

test('pathways: partial results per strength over SSE; health answers all along', async () => {
  const f = path.join(os.tmpdir(), `advlens-live-${process.pid}.png`);
  const px = Buffer.alloc(28 * 28);
  for (let y = 5; y < 23; y++) for (let x = 13; x < 16; x++) px[y * 28 + x] = 255;
  fs.writeFileSync(
    f,
    await sharp(px, { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toBuffer(),
  );
  const [id] = await uploadFiles(srv.base, [f]);
  fs.rmSync(f);
  const strengths = [0.5, 1, 1.5, 2];
  const job = await submit(srv.base, {
    kind: 'pathways',
    model: 'mnist-gap-cnn',
    images: [id],
    target: 8,
    strengths,
    steps: 10,
    keep: 'all',
  });
  const stream = events(srv.base, job.id);
  const lat = await healthWhile(srv.base, stream);
  const evs = await stream;
  const partials = evs.filter((e) => e.event === 'progress' && e.data.partial);
  // One partial after each strength but the last, each with the strengths done so far.
  assert.deepEqual(
    partials.map((e) => e.data.partial.pathways.attack.strengths),
    [[0.5], [0.5, 1], [0.5, 1, 1.5]],
  );
  assert.deepEqual(
    partials.map((e) => e.data.partial.strengths.length),
    [1, 2, 3],
  );
  const done = evs.at(-1)!;
  assert.equal(done.event, 'done');
  assert.deepEqual(done.data.result.pathways.attack.strengths, strengths);
  // The earlier strengths' images do not change when later ones are added.
  assert.deepEqual(done.data.result.strengths[0], partials[0].data.partial.strengths[0]);
  const jobMs = done.at;
  console.log(`# timings of the last strength: ${JSON.stringify(done.data.result.pathways.timings)}`);
  console.log(
    `# health while a ${(jobMs / 1000).toFixed(1)} s pathways job ran: ${lat.length} answers, median ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms`,
  );
  assert.ok(lat.length >= 10, `only ${lat.length} health answers during the job`);
  // Computing on the event loop would hold health for a whole strength (seconds).
  assert.ok(pct(lat, 99) < 500, `p99 health latency ${pct(lat, 99)} ms`);
});

test(
  'darknet tiny on cat.jpg: the first strength within 60 s, health answering',
  { skip: NO_SHARED },
  async () => {
    const models = (await (await fetch(`${srv.base}/api/models`)).json()) as { models: { id: string }[] };
    assert.ok(
      models.models.some((m) => m.id === 'darknet-tiny'),
      'darknet tiny is found under ../shared',
    );
    // As the page does: open the model (loaded in the worker meanwhile), upload the photo, start.
    const t0 = performance.now();
    await (await fetch(`${srv.base}/api/models/darknet-tiny`)).json();
    const [id] = await uploadFiles(srv.base, [CAT]);
    const job = await submit(srv.base, {
      kind: 'pathways',
      model: 'darknet-tiny',
      images: [id],
      target: 'tiger shark',
      strengths: [0.025, 0.05, 0.075, 0.1, 0.125, 0.15],
    });
    let first = 0;
    const stream = events(srv.base, job.id, (e) => {
      if (e.event === 'progress' && e.data.partial) {
        first = performance.now() - t0;
        return 'stop';
      }
    });
    const lat = await healthWhile(srv.base, stream, 50);
    const evs = await stream;
    await fetch(`${srv.base}/api/jobs/${job.id}`, { method: 'DELETE' });
    const p = evs.at(-1)!.data.partial;
    assert.ok(p, `no partial result: ${JSON.stringify(evs.at(-1)).slice(0, 300)}`);
    assert.equal(p.pathways.original.label, 'Egyptian cat');
    assert.equal(p.pathways.target.label, 'tiger shark');
    assert.deepEqual(p.pathways.attack.strengths, [0.025]);
    assert.ok(p.pathways.layers.length > 5);
    console.log(
      `# darknet tiny + cat.jpg: first strength's pathways after the model was opened: ${(first / 1000).toFixed(1)} s; health meanwhile: median ${pct(lat, 50).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms over ${lat.length} answers`,
    );
    assert.ok(first < 60000, `first strength after ${first} ms`);
  },
);
