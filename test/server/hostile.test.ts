/**
 * Hostile uploads to the explorer server: a decompression bomb, a 50 MB body, a non-image named .png,
 * path tricks in file names, a model.json whose weights point outside its folder. Each is refused with
 * a one-line JSON error (or, for a file name, the name is only a label), and nothing is written
 * outside the server's folder.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { errorOf, multipart, png, postJob, server, upload } from './helpers.ts';

const app = await server();
after(() => app.close());
const dataDir = (app as unknown as { advlens: { dataDir: string } }).advlens.dataDir;

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/** A valid 1-bit PNG of side x side black pixels: a few hundred KB that decode to side^2 bytes. */
function bombPng(side: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // grayscale
  const row = Math.ceil(side / 8) + 1;
  const idat = zlib.deflateSync(Buffer.alloc(row * side), { level: 9 });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const files = () => fs.readdirSync(path.join(dataDir, 'images')).sort();

test('a decompression bomb PNG (20000 x 20000 in a small file) is refused before decoding', async () => {
  const bomb = bombPng(20000);
  assert.ok(bomb.length < 200_000, `the bomb is ${bomb.length} bytes`);
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const r = await upload(app, [{ name: 'bomb.png', data: bomb }]);
  const ms = performance.now() - t0;
  assert.equal(r.statusCode, 413);
  assert.match(errorOf(r), /declares 20000x20000 pixels, more than the 40000000/);
  // Refused from the header: neither the time nor the memory of decoding 400 M pixels was spent.
  assert.ok(ms < 2000, `${ms} ms`);
  assert.ok(process.memoryUsage().rss - rss0 < 150 * 1024 * 1024);
  assert.deepEqual(files(), []);
});

test('a 50 MB body: an image over the size limit, and a JSON body over its limit', async () => {
  const big = Buffer.alloc(50 * 1024 * 1024, 7);
  (await png(4, 4)).copy(big); // a PNG's first bytes: only the size is wrong
  const r = await upload(app, [{ name: 'big.png', data: big }]);
  assert.equal(r.statusCode, 413);
  assert.match(errorOf(r), /larger than the 20971520 bytes/);
  const j = await app.inject({
    method: 'POST',
    url: '/api/jobs',
    payload: `{"kind":"attack","pad":"${'x'.repeat(50 * 1024 * 1024)}"}`,
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(j.statusCode, 413);
  assert.match(errorOf(j), /larger than the 1048576 bytes/);
  assert.deepEqual(files(), []);
});

test('a non-image named .png, and a truncated PNG, are refused by their content', async () => {
  const text = await upload(app, [
    { name: 'cat.png', data: 'GIF? no: just some text, with <script>alert(1)</script>' },
  ]);
  assert.equal(text.statusCode, 400);
  assert.match(errorOf(text), /^cat\.png is not an image \(its content is not PNG, JPEG/);
  const html = await upload(app, [{ name: 'x.png', data: '<svg xmlns="http://www.w3.org/2000/svg"></svg>' }]);
  assert.equal(html.statusCode, 400);
  const p = await png(64, 64);
  const cut = await upload(app, [{ name: 'cut.png', data: p.subarray(0, 60) }]);
  assert.equal(cut.statusCode, 400);
  assert.match(errorOf(cut), /cut\.png is not/);
  assert.deepEqual(files(), []);
});

test('path tricks in file names: an image name is only a label; a model file name is refused', async () => {
  const names = ['../../../../tmp/evil.png', '..\\..\\evil.png', '/etc/passwd', 'a\u0000b.png'];
  const r = await upload(
    app,
    await Promise.all(names.map(async (name, i) => ({ name, data: await png(8, 8, i) }))),
  );
  assert.equal(r.statusCode, 201, r.body);
  const imgs = r.json().images;
  assert.deepEqual(
    imgs.map((x: { name: string }) => x.name),
    ['evil.png', 'evil.png', 'passwd', 'ab.png'],
  );
  for (const x of imgs) assert.match(x.id, /^img-[0-9a-f]{16}$/);
  assert.ok(files().every((f) => /^img-[0-9a-f]{16}\.(png|json)$/.test(f)));
  assert.equal(files().length, 2 * imgs.length);
  assert.ok(!fs.existsSync('/tmp/evil.png'));
  for (const url of ['/api/images/..%2F..%2Fpackage.json', '/api/images/img-../../x', '/api/images/%2e%2e']) {
    const g = await app.inject({ method: 'GET', url });
    assert.equal(g.statusCode, 404, url);
    errorOf(g);
  }
  const mj = fs.readFileSync('models/mnist-gap-cnn/model.json');
  for (const bad of ['../model.json', '..', 'sub/weights.bin', '.hidden']) {
    const m = multipart([
      { name: 'model.json', data: mj },
      { name: bad, data: 'x' },
    ]);
    const u = await app.inject({ method: 'POST', url: '/api/models', ...m });
    // Busboy keeps only a name's last part ('../model.json' arrives as a second model.json); what is
    // left must be a plain file name.
    assert.equal(u.statusCode, 400, bad);
    assert.match(errorOf(u), /is not a plain file name|two files named model\.json|truncated|missing/);
  }
  // Only the server's own folders exist under its data folder.
  assert.deepEqual(fs.readdirSync(path.join(dataDir, 'models')), []);
});

test('a model.json whose weights point outside its folder is refused before any read', async () => {
  const json = JSON.parse(fs.readFileSync('models/mnist-gap-cnn/model.json', 'utf8'));
  const weights = fs.readFileSync('models/mnist-gap-cnn/weights.bin');
  for (const p of ['../../../../etc/passwd', '/etc/passwd', 'a/../../weights.bin', '../images/x.png']) {
    const evil = { ...json, weightsManifest: [{ ...json.weightsManifest[0], paths: [p] }] };
    const m = multipart([
      { name: 'model.json', data: JSON.stringify(evil) },
      { name: 'weights.bin', data: weights },
    ]);
    const r = await app.inject({ method: 'POST', url: '/api/models', ...m });
    assert.equal(r.statusCode, 400, p);
    const e = errorOf(r);
    assert.match(e, /outside the model folder/, e);
    assert.ok(!e.includes(dataDir), 'the message does not show the server folder');
  }
  // No model.json at all, and one that is not a model.
  const none = await app.inject({
    method: 'POST',
    url: '/api/models',
    ...multipart([{ name: 'w.bin', data: 'x' }]),
  });
  assert.match(errorOf(none), /no model\.json/);
  const junk = await app.inject({
    method: 'POST',
    url: '/api/models',
    ...multipart([{ name: 'model.json', data: '{"hello": 1}' }]),
  });
  assert.equal(junk.statusCode, 400);
  assert.match(errorOf(junk), /not a TensorFlow\.js model/);
  assert.deepEqual(fs.readdirSync(path.join(dataDir, 'models')), []);
});

test('a model over the size limit is refused', async () => {
  const s = await server({ limits: { modelBytes: 100_000 } });
  try {
    const m = multipart(
      ['model.json', 'weights.bin'].map((n) => ({
        name: n,
        data: fs.readFileSync(`models/mnist-gap-cnn/${n}`),
      })),
    );
    const r = await s.inject({ method: 'POST', url: '/api/models', ...m });
    assert.equal(r.statusCode, 413);
    assert.match(errorOf(r), /larger than the 100000 bytes/);
  } finally {
    await s.close();
  }
});

test('too many images in one upload or one job', async () => {
  const p = await png(4, 4);
  const r = await upload(
    app,
    Array.from({ length: 17 }, (_, i) => ({ name: `${i}.png`, data: p })),
  );
  assert.equal(r.statusCode, 413);
  errorOf(r);
  const j = await postJob(app, {
    kind: 'attack',
    model: 'mnist-gap-cnn',
    images: Array.from({ length: 17 }, () => 'img-0000000000000000'),
    strength: 0.1,
  });
  assert.equal(j.statusCode, 400);
  assert.match(errorOf(j), /17 images, more than the 16/);
});
