/**
 * "Compute here": pathways computed in this browser, in a Web Worker (worker.ts) with the library
 * itself, with no server: the user picks a tfjs model folder and images, types the classes, strengths
 * and steps; the result opens like a static folder (without neuron pictures).
 */
import type { Loaded } from './data.ts';
import type { LocalAnswer, LocalRequest } from './worker.ts';

/** What the panel needs from the page. */
export interface LocalHost {
  showError(message: string | null): void;
  setResults(list: Loaded[]): void;
}

const field = (label: string, input: HTMLElement) => {
  const d = document.createElement('div');
  const l = document.createElement('label');
  l.textContent = label;
  l.htmlFor = input.id;
  d.append(l, input);
  return d;
};

function input(id: string, type: string, value = ''): HTMLInputElement {
  const i = document.createElement('input');
  i.id = id;
  i.type = type;
  i.value = value;
  return i;
}

/** Builds the panel in `panel`. */
export function startLocal(panel: HTMLElement, host: LocalHost): void {
  panel.innerHTML = '';
  const note = document.createElement('p');
  note.className = 'muted';
  note.textContent =
    'Computed in this browser (a Web Worker, TensorFlow.js on WebAssembly): nothing leaves the page. Targeted PGD L2, step size strength / 5.';
  const grid = document.createElement('div');
  grid.className = 'live-grid';
  const model = input('local-model', 'file');
  model.multiple = true;
  model.setAttribute('webkitdirectory', '');
  const images = input('local-images', 'file');
  images.multiple = true;
  images.accept = 'image/*';
  const targetImages = input('local-target-images', 'file');
  targetImages.multiple = true;
  targetImages.accept = 'image/*';
  const original = input('local-original', 'text');
  const target = input('local-target', 'text');
  original.placeholder = target.placeholder = 'class index or label';
  const strengths = input('local-strengths', 'text', '1,2,4');
  const steps = input('local-steps', 'number', '20');
  grid.append(
    field('tfjs model folder', model),
    field('images of the original class', images),
    field('images of the target class (optional)', targetImages),
    field('original class', original),
    field('target class', target),
    field('strengths', strengths),
    field('attack steps', steps),
  );
  const run = document.createElement('button');
  run.type = 'button';
  run.className = 'primary';
  run.id = 'local-run';
  run.textContent = 'Compute in this browser';
  const status = document.createElement('div');
  status.className = 'muted';
  status.id = 'local-status';
  panel.append(note, grid, run, status);

  let worker: Worker | null = null;
  run.addEventListener('click', () => {
    host.showError(null);
    const s = strengths.value.split(',').map((v) => Number(v.trim()));
    if (!s.length || s.some((v) => !Number.isFinite(v) || v <= 0))
      return host.showError(
        `strengths "${strengths.value}" must be positive numbers separated by commas, e.g. 1,2,4`,
      );
    const q: LocalRequest = {
      modelFiles: [...(model.files ?? [])],
      images: [...(images.files ?? [])],
      targetImages: [...(targetImages.files ?? [])],
      original: original.value,
      target: target.value,
      strengths: s,
      steps: Math.max(1, Math.round(Number(steps.value) || 1)),
    };
    if (!q.modelFiles.length)
      return host.showError('pick the folder of a tfjs model (model.json and its weights)');
    worker?.terminate();
    worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    run.disabled = true;
    const t0 = performance.now();
    worker.onmessage = (e: MessageEvent<LocalAnswer>) => {
      const a = e.data;
      if ('progress' in a) status.textContent = a.progress;
      else {
        run.disabled = false;
        worker?.terminate();
        worker = null;
        if ('error' in a) {
          status.textContent = 'failed';
          host.showError(a.error);
        } else {
          status.textContent = `done in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
          host.setResults([
            {
              result: a.result,
              source: `${a.model} (computed here)`,
              model: a.model,
              pictures: () => undefined,
            },
          ]);
        }
      }
    };
    worker.onerror = (e) => {
      run.disabled = false;
      host.showError(`the worker failed: ${e.message}`);
    };
    worker.postMessage(q);
  });
}
