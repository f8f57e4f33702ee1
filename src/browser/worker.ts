/**
 * The Web Worker behind {@link createWorkerRunner}: holds its own TensorFlow.js (wasm with the
 * project's kernels) and one model, and runs attacks and explainers by name off the page's thread.
 * Start it as a module worker, e.g. with Vite: `import AdvlensWorker from 'advlens/browser/worker?worker'`.
 */
import { UserError } from '../errors.ts';
import type { Classifier } from '../models/classifier.ts';
import { initBrowserBackend } from './backend.ts';
import { loadClassifierFromUrl } from './models.ts';
import type { ModelInfo, Reply, Request } from './protocol.ts';
import { runAttack, runExplain } from './run.ts';

interface WorkerScope {
  onmessage: ((e: MessageEvent<Request>) => void) | null;
  postMessage(message: Reply, transfer: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;

let model: Classifier | null = null;

function needModel(): Classifier {
  if (!model) throw new UserError('no model loaded in the worker; call runner.loadModel(url) first');
  return model;
}

async function handle(req: Request): Promise<[unknown, Transferable[]]> {
  switch (req.op) {
    case 'init':
      return [await initBrowserBackend({ backend: req.backend, wasmPaths: req.wasmPaths }), []];
    case 'load': {
      const next = await loadClassifierFromUrl(req.url, { preset: req.preset });
      model?.model.dispose();
      model = next;
      const info: ModelInfo = {
        name: next.card.name,
        labels: next.labels,
        inputShape: next.inputShape,
        card: next.card,
      };
      return [info, []];
    }
    case 'attack': {
      const r = runAttack(needModel(), req.name, req.images, req.options, req.labels);
      return [r, [r.xAdv.buffer, r.logits.buffer, r.predictions.buffer, r.labels.buffer]];
    }
    case 'explain': {
      const r = runExplain(needModel(), req.method, req.images, req.options, req.labels);
      return [r, [r.maps.buffer]];
    }
    default:
      throw new Error(`unknown request ${(req as { op: string }).op}`);
  }
}

// One request at a time, in order: a model loading finishes before the next attack uses it.
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (e) => {
  const req = e.data;
  queue = queue.then(async () => {
    try {
      const [value, transfer] = await handle(req);
      scope.postMessage({ id: req.id, ok: true, value }, transfer);
    } catch (err) {
      const user = err instanceof UserError;
      const message = user ? err.message : String((err as Error)?.stack ?? err);
      scope.postMessage({ id: req.id, ok: false, message, user }, []);
    }
  });
};
