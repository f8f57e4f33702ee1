/**
 * The explorer's Web Worker: computes pathways in the browser with the library itself (advlens/browser
 * on the wasm backend), for static mode without a server. The page posts the files of a tfjs model
 * folder, the images (original class, and optionally target class) and the classes, strengths and
 * steps; the worker loads the model from those files (through `loadClassifierFromUrl`'s fetch),
 * decodes the images as the model's card says, runs `pathways` and posts the result (or an error's
 * message). The page stays responsive meanwhile.
 */
import {
  initBrowserBackend,
  loadClassifierFromUrl,
  imageTensor,
  pathways,
  UserError,
  type PathwaysResult,
} from '../../src/browser/index.ts';
import * as tf from '@tensorflow/tfjs-core';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { parseClass } from './classes.ts';

/** What the page asks for. */
export interface LocalRequest {
  modelFiles: File[];
  images: File[];
  targetImages: File[];
  original: string;
  target: string;
  strengths: number[];
  steps: number;
}

/** What the worker answers: progress lines, then the result or an error. */
export type LocalAnswer =
  { progress: string } | { result: PathwaysResult; model: string } | { error: string };

const post = (a: LocalAnswer) => (self as unknown as Worker).postMessage(a);

/** Images decoded and fitted to the model, stacked [N, H, W, C]. */
async function decode(files: File[], fit: Parameters<typeof imageTensor>[1]): Promise<tf.Tensor4D> {
  const xs: tf.Tensor4D[] = [];
  try {
    for (const f of files) xs.push(await imageTensor(f, fit));
    return tf.concat(xs, 0);
  } finally {
    tf.dispose(xs);
  }
}

async function run(q: LocalRequest): Promise<void> {
  post({ progress: 'starting the wasm backend' });
  await initBrowserBackend({
    wasmPaths: {
      'tfjs-backend-wasm.wasm': wasmPlain,
      'tfjs-backend-wasm-simd.wasm': wasmSimd,
      'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
    },
  });
  const byName = new Map(q.modelFiles.map((f) => [f.name, f]));
  if (!byName.has('model.json'))
    throw new UserError('the model folder has no model.json: pick the folder of a tfjs model');
  const root = 'https://model.invalid/m/';
  // The model's files come from the folder picked, by name.
  const fetchFile = async (u: RequestInfo | URL) => {
    const name = decodeURIComponent(new URL(String(u)).pathname.slice('/m/'.length));
    const f = byName.get(name);
    return f ? new Response(f) : new Response(null, { status: 404, statusText: 'Not Found' });
  };
  post({ progress: 'loading the model' });
  const model = await loadClassifierFromUrl(`${root}model.json`, { fetch: fetchFile as typeof fetch });
  const labels = model.labels;
  const original = parseClass(q.original, labels);
  const target = parseClass(q.target, labels);
  if (original === null)
    throw new UserError(`the original class "${q.original}" is not one of the model's labels`);
  if (target === null) throw new UserError(`the target class "${q.target}" is not one of the model's labels`);
  if (!q.images.length) throw new UserError('pick at least one image of the original class');
  const p = model.card.preprocess;
  const fit = { height: p.height, width: p.width, channels: p.channels, resize: p.resize };
  const x = await decode(q.images, fit);
  const xt = q.targetImages.length ? await decode(q.targetImages, fit) : undefined;
  try {
    post({
      progress: `attacking ${x.shape[0]} images at ${q.strengths.length} strengths (${q.steps} steps)`,
    });
    const result = pathways(
      model,
      { original: x, target: xt },
      { original, target, strengths: q.strengths, steps: q.steps },
    );
    post({ result, model: model.card.name });
  } finally {
    tf.dispose([x, ...(xt ? [xt] : [])]);
    model.model.dispose();
  }
}

self.onmessage = (e: MessageEvent<LocalRequest>) => {
  run(e.data).catch((err: unknown) =>
    post({ error: err instanceof Error ? err.message : `the computation failed: ${String(err)}` }),
  );
};
