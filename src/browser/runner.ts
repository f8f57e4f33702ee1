/**
 * The attacks and explainers in a Web Worker, behind promises: the page stays responsive while a
 * PGD or Integrated Gradients run takes seconds. Results come back as typed arrays (transferred, not
 * copied). One request runs at a time, in the order asked.
 *
 *   import AdvlensWorker from 'advlens/browser/worker?worker'; // Vite; or new Worker(url, { type: 'module' })
 *   const runner = await createWorkerRunner({ worker: new AdvlensWorker(), wasmPaths: '/wasm/' });
 *   await runner.loadModel('/models/mnist-small-cnn/');
 *   const r = await runner.attack('pgd', pixels, { eps: 0.1, steps: 20 }); // r.xAdv: Float32Array
 *   runner.dispose();
 */
import type { AttackOptions } from '../attacks/types.ts';
import type { BackendName, engineInfo } from '../engine/backend.ts';
import { UserError } from '../errors.ts';
import type { ExplainOptions } from '../explain/types.ts';
import { absoluteWasmPaths, type WasmPaths } from './backend.ts';
import type { Pixels } from './image.ts';
import type { ModelInfo, Reply, Request } from './protocol.ts';
import type { AttackOutput, ExplainOutput } from './run.ts';

export type { ModelInfo } from './protocol.ts';

/** Options of {@link createWorkerRunner}. */
export interface WorkerRunnerOptions {
  /** The worker, started from `advlens/browser/worker` as a module worker; the runner owns it. */
  worker: Worker;
  /** Backend in the worker (default 'wasm'). */
  backend?: BackendName;
  /** Where the page serves the wasm binaries (see `initBrowserBackend`); relative to the page. */
  wasmPaths?: WasmPaths;
}

/** A model, attacks and explainers running in a Web Worker. */
export interface WorkerRunner {
  /** The worker's engine: backend, the project's registered kernels, whether its wasm module is loaded. */
  readonly engine: ReturnType<typeof engineInfo>;
  /** Loads the model at `url` (folder or model.json; relative to the page) in the worker, replacing the last. */
  loadModel(url: string, opts?: { preset?: string }): Promise<ModelInfo>;
  /** Runs attack `name` (a key of `ATTACKS`); labels default to the model's predictions. */
  attack(
    name: string,
    images: Pixels,
    options: AttackOptions,
    labels?: ArrayLike<number>,
  ): Promise<AttackOutput>;
  /** Runs explainer `method` (a key of `EXPLAINERS`); `target: 'label'` needs `labels`. */
  explain(
    method: string,
    images: Pixels,
    options?: ExplainOptions,
    labels?: ArrayLike<number>,
  ): Promise<ExplainOutput>;
  /** Stops the worker; pending requests are rejected. */
  dispose(): void;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };
type Ask = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/**
 * Starts the engine in `opts.worker` and returns a {@link WorkerRunner} over it. Rejects with a
 * {@link UserError} when the backend cannot start there (for example wasm files not served).
 */
export async function createWorkerRunner(opts: WorkerRunnerOptions): Promise<WorkerRunner> {
  const { worker } = opts;
  const base = globalThis.location?.href ?? 'http://localhost/';
  const pending = new Map<number, Pending>();
  let next = 1;
  let closed = false;
  const failAll = (e: Error) => {
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  worker.onmessage = (e: MessageEvent<Reply>) => {
    const r = e.data;
    const p = pending.get(r.id);
    if (!p) return;
    pending.delete(r.id);
    if (r.ok) p.resolve(r.value);
    else p.reject(r.user ? new UserError(r.message) : new Error(`advlens worker: ${r.message}`));
  };
  worker.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    failAll(new Error(`advlens worker failed: ${e.message || 'could not start (is it a module worker?)'}`));
  };
  const ask = <T>(req: Ask, transfer: Transferable[] = []): Promise<T> => {
    if (closed) return Promise.reject(new UserError('this runner was disposed; create another'));
    const id = next++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ ...req, id }, transfer);
    });
  };
  const labelsOf = (l?: ArrayLike<number>) => (l ? Int32Array.from(l) : undefined);
  // Images are copied to the worker (the caller keeps its arrays); results are transferred back.
  const copy = (p: Pixels): Pixels => ({ data: p.data.slice(), shape: [...p.shape] as Pixels['shape'] });

  const engine = await ask<ReturnType<typeof engineInfo>>({
    op: 'init',
    backend: opts.backend ?? 'wasm',
    wasmPaths: opts.wasmPaths && absoluteWasmPaths(opts.wasmPaths, base),
  }).catch((e: Error) => {
    worker.terminate();
    throw e;
  });
  return {
    engine,
    loadModel: (url, o = {}) =>
      ask<ModelInfo>({ op: 'load', url: new URL(url, base).href, preset: o.preset }),
    attack(name, images, options, labels) {
      const x = copy(images);
      return ask<AttackOutput>({ op: 'attack', name, images: x, options, labels: labelsOf(labels) }, [
        x.data.buffer,
      ]);
    },
    explain(method, images, options = {}, labels) {
      const x = copy(images);
      return ask<ExplainOutput>({ op: 'explain', method, images: x, options, labels: labelsOf(labels) }, [
        x.data.buffer,
      ]);
    },
    dispose() {
      if (closed) return;
      closed = true;
      worker.terminate();
      failAll(new UserError('the runner was disposed while this request ran'));
    },
  };
}
