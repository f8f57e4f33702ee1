/**
 * `advlens pathways` in Node: loads the model and the original and target images (dataset slices or
 * files), runs the pathways computation and the neuron details, and returns the report's files.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { getBatch, type Dataset } from '../data/dataset.ts';
import { classIndex, type Classifier } from '../models/classifier.ts';
import { loadClassifier } from './models.ts';
import { loadDatasetFor } from './loadData.ts';
import { encodePng, loadImageDataset } from './image.ts';
import { pathways } from '../pathways/pathways.ts';
import { neuronDetails } from '../pathways/detail.ts';
import { SWEEP_DEFAULTS } from '../pathways/sweep.ts';
import type { HighlightMeasure } from '../pathways/highlight.ts';
import { pathwaysReport } from '../report/pathways.ts';
import { UserError } from '../errors.ts';
import { versions } from '../version.ts';

/** What one pathways run needs: the model's preset, classes, images and the computation's options. */
export interface PathwaysRunOptions {
  preset?: string;
  original: string;
  target: string;
  data?: string;
  images?: string[];
  targetData?: string;
  targetImages?: string[];
  limit: number;
  dataDir?: string;
  attack: string;
  strengths?: number[];
  steps: number;
  stepFraction: number;
  keep: 'successful' | 'all';
  k: number;
  measure: HighlightMeasure;
  neurons: number;
  edges: number;
  batchSize: number;
  seed: number;
  featureVis?: boolean;
  fvSteps: number;
  /** The command recorded in the provenance (the CLI passes its arguments). */
  command?: string;
}

/** A progress display: `update(done, total, what)` while working, `stop()` at the end. */
export interface Progress {
  update(done: number, total: number, what?: string): void;
  stop(): void;
}

/** Images of class `c` from a dataset spec (the first `limit`), or the given files. */
async function classImages(
  model: Classifier,
  c: number,
  o: PathwaysRunOptions,
  spec?: string,
  files?: string[],
): Promise<{ x: tf.Tensor4D; source: string } | undefined> {
  let ds: Dataset;
  const [h, w, ch] = model.inputShape;
  if (files)
    ds = await loadImageDataset(files, {
      size: [h, w],
      channels: ch as 1 | 3,
      fit: model.card.preprocess.resize,
    });
  else if (spec) ds = await loadDatasetFor(model, spec, { dataDir: o.dataDir });
  else return undefined;
  let idx = Array.from({ length: ds.size }, (_, i) => i);
  if (!files) {
    if (ds.classNames.length !== model.labels.length)
      throw new UserError(
        `${spec} has ${ds.classNames.length} classes but the model predicts ${model.labels.length}`,
      );
    idx = idx.filter((i) => ds.labels[i] === c).slice(0, o.limit);
    if (idx.length === 0)
      throw new UserError(
        `${spec} has no image of class ${model.labels[c]}; choose another class or dataset`,
      );
  }
  const { x, y } = getBatch(ds, idx);
  y.dispose();
  return {
    x,
    source: files
      ? files.map((f) => path.basename(f)).join(', ')
      : `${spec}: ${idx.length} images of class ${model.labels[c]}`,
  };
}

/**
 * One model's pathways (src/pathways) on the images of `o`, with its neuron details and report files
 * (paths under `prefix`), PNGs encoded: what `advlens pathways` writes for each model.
 */
export async function pathwaysRun(
  dir: string,
  o: PathwaysRunOptions,
  prefix: string,
  progress: (label: string) => Progress = () => ({ update() {}, stop() {} }),
) {
  const model = await loadClassifier(dir, { preset: o.preset });
  const original = classIndex(model, o.original);
  const target = classIndex(model, o.target);
  const orig = (await classImages(model, original, o, o.data, o.images))!;
  const tgtSpec = o.targetData ?? (o.targetImages ? undefined : o.data);
  const tgt = await classImages(model, target, o, tgtSpec, o.targetImages);
  const bar = progress(`pathways ${model.card.name}`);
  const strengths = o.strengths ?? SWEEP_DEFAULTS.strengths;
  try {
    const r = pathways(
      model,
      { original: orig.x, target: tgt?.x },
      {
        ...{ original, target, attack: o.attack, strengths, steps: o.steps, stepFraction: o.stepFraction },
        ...{ keep: o.keep, k: o.k, batchSize: o.batchSize, seed: o.seed },
        onProgress: (d, t) => bar.update(d, t, `strength ${strengths[d - 1]}`),
      },
    );
    bar.stop();
    const provenance = {
      model: { dir, name: model.card.name, architecture: model.card.architecture },
      data: { original: orig.source, target: tgt?.source ?? null },
      command: o.command ?? '(library call: pathwaysRun)',
      versions: versions(),
      created: new Date().toISOString(),
    };
    const all = tgt ? tf.concat([orig.x, tgt.x], 0) : orig.x;
    const fv = o.featureVis ? o.fvSteps : 0;
    const dbar = progress(`neuron detail${fv ? ` (feature visualisation, ${fv} steps)` : ''}`);
    const t0 = performance.now();
    const det = neuronDetails(model, r, all, {
      featureVisSteps: fv,
      batchSize: o.batchSize,
      seed: o.seed,
      onProgress: (d, t) => dbar.update(d, t),
    });
    r.timings.detail = Math.round(performance.now() - t0);
    if (all !== orig.x) all.dispose();
    const pngs: { path: string; content: Uint8Array }[] = [];
    const details: Record<string, { featureVis?: string; patches: string[] }> = {};
    for (const [key, d] of Object.entries(det)) {
      const base = `neurons/${key.replace(':', '-')}`;
      const patches = d.patches.map((p, k) => ({ path: `${base}/patch-${k}.png`, px: p }));
      const fvFile = d.featureVis ? { path: `${base}/feature-vis.png`, px: d.featureVis } : undefined;
      for (const f of [...patches, ...(fvFile ? [fvFile] : [])])
        pngs.push({ path: prefix + f.path, content: await encodePng(f.px.data, f.px.shape) });
      details[key] = { patches: patches.map((p) => p.path), featureVis: fvFile?.path };
    }
    const report = pathwaysReport(r, {
      provenance,
      measure: o.measure,
      neurons: o.neurons,
      edges: o.edges,
      details,
    });
    const files = [...report.map((f) => ({ ...f, path: prefix + f.path })), ...pngs];
    return { name: model.card.name, r, files, provenance };
  } finally {
    tf.dispose([orig.x, ...(tgt ? [tgt.x] : [])]);
  }
}
