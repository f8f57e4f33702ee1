/**
 * `advlens pathways` in Node: loads the model and the original and target images (dataset slices or
 * files), runs the pathways computation and the neuron details, and returns the report's files. The
 * neuron images come from the model's atlas (src/node/atlasRun.ts) where it has them: the atlas in
 * `atlas`, else the cached one of the model's hash; only the neurons it lacks are computed.
 */
import fs from 'node:fs';
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
import { provenance } from '../report/provenance.ts';
import { findAtlas } from './atlasRun.ts';

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
  /** The two strengths compared in one graph (values among `strengths`; default the weakest with kept images and the strongest). */
  compareStrengths?: [number, number];
  /** The atlas folder to take neuron images from (default the model's cached atlas, if any); false: none. */
  atlas?: string | false;
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
  const started = performance.now();
  const model = await loadClassifier(dir, { preset: o.preset });
  const original = classIndex(model, o.original);
  const target = classIndex(model, o.target);
  const orig = (await classImages(model, original, o, o.data, o.images))!;
  const tgtSpec = o.targetData ?? (o.targetImages ? undefined : o.data);
  const tgt = await classImages(model, target, o, tgtSpec, o.targetImages);
  const strengths = o.strengths ?? SWEEP_DEFAULTS.strengths;
  const cmp = o.compareStrengths;
  if (cmp && (cmp.some((v) => !strengths.includes(v)) || cmp[0] >= cmp[1]))
    throw new UserError(
      `the compared strengths ${cmp.join(', ')} must be two of the strengths (${strengths.join(', ')}), the weaker first`,
    );
  const bar = progress(`pathways ${model.card.name}`);
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
    const found = o.atlas === false ? undefined : await findAtlas(dir, o.atlas || undefined);
    const atlas = found && 'index' in found ? found : undefined;
    const fromAtlas = (key: string) => {
      const [layer, c] = key.split(':');
      return atlas?.index.neurons[layer]?.[c];
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
      have: (key, what) => fromAtlas(key)?.[what] !== undefined,
    });
    dbar.stop();
    r.timings.detail = Math.round(performance.now() - t0);
    if (all !== orig.x) all.dispose();
    const pngs: { path: string; content: Uint8Array }[] = [];
    const details: NonNullable<Parameters<typeof pathwaysReport>[1]['details']> = {};
    let used = 0;
    for (const [key, d] of Object.entries(det)) {
      const base = `neurons/${key.replace(':', '-')}`;
      const a = fromAtlas(key);
      const copy = (file: string, to: string) => {
        pngs.push({ path: prefix + to, content: fs.readFileSync(path.join(atlas!.dir, file)) });
        return to;
      };
      const patches = a?.patches
        ? a.patches.map((p, k) => copy(p.file, `${base}/patch-${k}.png`))
        : d.patches.map((_, k) => `${base}/patch-${k}.png`);
      if (!a?.patches)
        for (const [k, p] of d.patches.entries())
          pngs.push({ path: prefix + patches[k], content: await encodePng(p.data, p.shape) });
      let featureVis: string | undefined;
      if (a?.featureVis) featureVis = copy(a.featureVis.file, `${base}/feature-vis.png`);
      else if (d.featureVis) {
        featureVis = `${base}/feature-vis.png`;
        pngs.push({
          path: prefix + featureVis,
          content: await encodePng(d.featureVis.data, d.featureVis.shape),
        });
      }
      if (a?.patches || a?.featureVis) used++;
      details[key] = {
        patches,
        featureVis,
        source: { patches: a?.patches ? 'atlas' : 'run', featureVis: a?.featureVis ? 'atlas' : 'run' },
      };
    }
    const prov = provenance(
      o.command ?? null,
      {
        model: { dir, name: model.card.name, architecture: model.card.architecture },
        data: { original: orig.source, target: tgt?.source ?? null },
        atlas: atlas
          ? {
              dir: atlas.dir,
              modelHash: atlas.index.modelHash,
              featureVis: atlas.index.featureVis,
              patches: atlas.index.patches,
              neurons: used,
            }
          : null,
      },
      { seconds: Math.round(performance.now() - started) / 1000 },
    );
    const report = pathwaysReport(r, {
      provenance: prov,
      notes: found && 'note' in found ? [found.note] : [],
      compare: o.compareStrengths?.map((v) => strengths.indexOf(v)) as [number, number] | undefined,
      measure: o.measure,
      neurons: o.neurons,
      edges: o.edges,
      details,
    });
    const files = [...report.map((f) => ({ ...f, path: prefix + f.path })), ...pngs];
    return { name: model.card.name, r, files, provenance: prov };
  } finally {
    tf.dispose([orig.x, ...(tgt ? [tgt.x] : [])]);
  }
}
