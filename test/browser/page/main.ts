/**
 * The browser test page: the same calls a user's page makes (see the README's "In the browser"; a
 * user imports 'advlens/browser' and 'advlens/browser/worker?worker' where this page imports the
 * sources),
 * exposed to the test as `window.advlensPage`, and a figure of the results for the screenshot.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  createWorkerRunner,
  fgsm,
  imagePixels,
  initBrowserBackend,
  integratedGradients,
  loadClassifierFromUrl,
  pgd,
  renderMap,
  type AttackOptions,
  type Classifier,
  type ExplainOptions,
  type Pixels,
  type Rgb,
  UserError,
} from '../../../src/browser/index.ts';
import AdvlensWorker from '../../../src/browser/worker.ts?worker';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

const wasmPaths = {
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
};
const MODEL = '/models/mnist-small-cnn/';

/** What the test sends: the digits, their labels and the options of each method. */
interface Input {
  x: number[];
  shape: [number, number, number, number];
  y: number[];
  fgsm: AttackOptions;
  pgd: AttackOptions;
  ig: ExplainOptions;
}

/** What the page sends back (plain arrays: they cross to Node as JSON). */
interface Output {
  engine: {
    backend: string;
    registeredKernels: string[];
    moduleKernels: string | null;
    simd: boolean | null;
  };
  fgsm: { xAdv: number[]; predictions: number[]; success: boolean[] };
  pgd: { xAdv: number[]; predictions: number[]; success: boolean[] };
  ig: { maps: number[]; targets: number[]; delta: number[] };
  /** Tensors left behind by the direct calls (0 expected); null for the worker. */
  leaked: number | null;
  /** Timer ticks the page ran while the worker computed PGD (null for direct calls). */
  ticks: number | null;
}

const status = (s: string) => void (document.getElementById('status')!.textContent = s);
const argMax = (logits: Float32Array | number[], k: number) =>
  Array.from({ length: logits.length / k }, (_, i) => {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
    return best;
  });

let model: Classifier | null = null;

/** FGSM, PGD and IG on the page's own thread, with the core's functions, as a user's page calls them. */
async function direct(input: Input): Promise<Output> {
  const engine = await initBrowserBackend({ wasmPaths });
  model ??= await loadClassifierFromUrl(MODEL);
  const before = tf.memory().numTensors;
  const x = tf.tensor4d(input.x, input.shape);
  const y = tf.tensor1d(input.y, 'int32');
  const batch = { x, y };
  const k = model.labels.length;
  const a = fgsm(model, batch, input.fgsm);
  const p = pgd(model, batch, input.pgd);
  const ig = integratedGradients(model, batch, input.ig);
  const out: Output = {
    engine,
    fgsm: {
      xAdv: Array.from(a.xAdv.dataSync()),
      predictions: argMax(Array.from(a.logits.dataSync()), k),
      success: a.success,
    },
    pgd: {
      xAdv: Array.from(p.xAdv.dataSync()),
      predictions: argMax(Array.from(p.logits.dataSync()), k),
      success: p.success,
    },
    ig: { maps: Array.from(ig.maps.dataSync()), targets: ig.targets, delta: ig.delta ?? [] },
    leaked: 0,
    ticks: null,
  };
  tf.dispose([x, y, a.xAdv, a.logits, p.xAdv, p.logits, ig.maps]);
  out.leaked = tf.memory().numTensors - before;
  draw(input, out);
  status(
    `backend ${engine.backend}; project kernels: ${engine.registeredKernels.length}, module ${engine.moduleKernels}`,
  );
  return out;
}

/** The same through the Web Worker runner; counts timer ticks on this thread while PGD runs there. */
async function worker(input: Input): Promise<Output> {
  const runner = await createWorkerRunner({ worker: new AdvlensWorker(), wasmPaths });
  try {
    await runner.loadModel(MODEL);
    const images: Pixels = { data: Float32Array.from(input.x), shape: input.shape };
    const a = await runner.attack('fgsm', images, input.fgsm, input.y);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const p = await runner.attack('pgd', images, input.pgd, input.y);
    clearInterval(timer);
    const ig = await runner.explain('integrated-gradients', images, input.ig, input.y);
    return {
      engine: runner.engine,
      fgsm: { xAdv: Array.from(a.xAdv), predictions: Array.from(a.predictions), success: a.success },
      pgd: { xAdv: Array.from(p.xAdv), predictions: Array.from(p.predictions), success: p.success },
      ig: { maps: Array.from(ig.maps), targets: ig.targets, delta: ig.delta ?? [] },
      leaked: null,
      ticks,
    };
  } finally {
    runner.dispose();
  }
}

/** User mistakes, on the page and through the worker: each a UserError with its one-line message. */
async function mistakes(input: Input): Promise<{ where: string; user: boolean; message: string }[]> {
  const out: { where: string; user: boolean; message: string }[] = [];
  const catching = async (where: string, f: () => Promise<unknown>) => {
    try {
      await f();
      out.push({ where, user: false, message: 'no error' });
    } catch (e) {
      out.push({ where, user: e instanceof UserError, message: (e as Error).message });
    }
  };
  await catching('page: missing model', () => loadClassifierFromUrl('/models/no-such-model/'));
  const runner = await createWorkerRunner({ worker: new AdvlensWorker(), wasmPaths });
  const images: Pixels = { data: Float32Array.from(input.x), shape: input.shape };
  await catching('worker: attack before a model', () => runner.attack('fgsm', images, input.fgsm));
  await catching('worker: missing model', () => runner.loadModel('/models/no-such-model/'));
  await runner.loadModel(MODEL);
  await catching('worker: unknown attack', () => runner.attack('nope', images, input.fgsm));
  await catching('worker: wrong image size', () =>
    runner.explain('gradient', { data: new Float32Array(2 * 3 * 3), shape: [2, 3, 3, 1] }),
  );
  runner.dispose();
  await catching('worker: after dispose', () => runner.attack('fgsm', images, input.fgsm));
  return out;
}

/** Decodes PNG files (bytes from Node) as Blobs, ImageData and <img> elements, to a card's preprocess. */
async function decode(
  files: { png: number[]; height: number; width: number; channels: 1 | 3; resize: 'fill' | 'cover' }[],
) {
  const out: { blob: number[]; imageData: number[]; img: number[]; shape: number[] }[] = [];
  for (const f of files) {
    const blob = new Blob([Uint8Array.from(f.png)], { type: 'image/png' });
    const fit = { height: f.height, width: f.width, channels: f.channels, resize: f.resize };
    const fromBlob = await imagePixels(blob, fit);
    // The same file through ImageData (pixels a page already has, e.g. from a canvas).
    const bmp = await createImageBitmap(blob);
    const c = new OffscreenCanvas(bmp.width, bmp.height).getContext('2d')!;
    c.drawImage(bmp, 0, 0);
    const fromData = await imagePixels(c.getImageData(0, 0, bmp.width, bmp.height), fit);
    // And through an <img> element.
    const img = new Image();
    img.src = URL.createObjectURL(blob);
    await img.decode();
    const fromImg = await imagePixels(img, fit);
    URL.revokeObjectURL(img.src);
    out.push({
      blob: Array.from(fromBlob.data),
      imageData: Array.from(fromData.data),
      img: Array.from(fromImg.data),
      shape: fromBlob.shape,
    });
  }
  return out;
}

function canvasOf(rgb: Rgb): HTMLCanvasElement {
  const [h, w] = rgb.shape;
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  const img = new ImageData(w, h);
  for (let p = 0; p < h * w; p++) {
    img.data.set([rgb.data[3 * p], rgb.data[3 * p + 1], rgb.data[3 * p + 2], 255], 4 * p);
  }
  c.getContext('2d')!.putImageData(img, 0, 0);
  return c;
}

/** Rows: clean, FGSM, PGD, PGD's perturbation (signed), IG (magnitude); one column per digit. */
function draw(input: Input, out: Output): void {
  const [n, h, w, ch] = input.shape;
  const per = h * w * ch;
  const plane = (v: number[], i: number) => ({
    data: Float32Array.from(v.slice(i * per, (i + 1) * per)),
    shape: [h, w, ch] as [number, number, number],
  });
  const gray = (v: number[], i: number) =>
    renderMap(plane(v, i), { sign: 'signed', scale: 'none', colormap: 'gray' });
  const perturbation = input.x.map((v, j) => out.pgd.xAdv[j] - v);
  const rows: [string, (i: number) => Rgb, (i: number) => string][] = [
    ['clean', (i) => gray(input.x, i), (i) => `label ${input.y[i]}`],
    ['FGSM', (i) => gray(out.fgsm.xAdv, i), (i) => `pred ${out.fgsm.predictions[i]}`],
    ['PGD', (i) => gray(out.pgd.xAdv, i), (i) => `pred ${out.pgd.predictions[i]}`],
    [
      'PGD x\u2032 \u2212 x',
      (i) => renderMap(plane(perturbation, i), { sign: 'signed', scale: input.pgd.eps }),
      () => '',
    ],
    ['IG', (i) => renderMap(plane(out.ig.maps, i)), (i) => `class ${out.ig.targets[i]}`],
  ];
  const table = document.createElement('table');
  for (const [name, img, note] of rows) {
    const tr = table.insertRow();
    const th = document.createElement('th');
    th.textContent = name;
    tr.appendChild(th);
    for (let i = 0; i < n; i++) {
      const td = tr.insertCell();
      td.appendChild(canvasOf(img(i)));
      td.appendChild(document.createTextNode(note(i)));
    }
  }
  document.getElementById('figure')!.replaceChildren(table);
}

declare global {
  interface Window {
    advlensPage: {
      direct: typeof direct;
      worker: typeof worker;
      decode: typeof decode;
      mistakes: typeof mistakes;
    };
  }
}
window.advlensPage = { direct, worker, decode, mistakes };
status('ready');
