/**
 * The explorer server's tasks, run on the worker pool (src/node/pool.ts loads this module's `TASKS` in
 * every worker), so that attacks, pathways and saliency never block the server's event loop:
 * - `srvModelInfo`: a model folder's card as the API lists it (loads the model: checks it works);
 * - `srvPathwaysStart`, `srvPathwaysStrength`, `srvPathwaysEnd`: one pathways job, strength by strength
 *   (the worker keeps the job's images and attacked images between the calls), each strength answering
 *   the pathways of the strengths done so far (the artefacts `advlens pathways` writes) and the attacked
 *   images of that strength;
 * - `srvAttack`, `srvSaliency`, `srvCurve`: the other job kinds, one call each.
 * Images travel as paths of PNG files in the server's image folder; pictures come back as PNG data URLs.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import { loadImageDataset, encodePng } from '../node/image.ts';
import { floatPixels, getBatch } from '../data/dataset.ts';
import { loadDatasetFor } from '../node/loadData.ts';
import { attack } from '../attacks/index.ts';
import { explainer, explainerFacts } from '../explain/index.ts';
import { displayValues, mapAt, renderMap } from '../explain/display.ts';
import { attackSweep, type SweepStrength } from '../pathways/sweep.ts';
import { pathways } from '../pathways/pathways.ts';
import { pathwayGraph } from '../pathways/graph.ts';
import { featureVis } from '../pathways/featureVis.ts';
import { datasetPatches, patchPixels } from '../pathways/patches.ts';
import { imageExploits } from '../pathways/imageView.ts';
import type { PathwaysResult } from '../pathways/pathways.ts';
import { pathwaysReport } from '../report/pathways.ts';
import type { HighlightMeasure } from '../pathways/highlight.ts';
import type { TaskHandler, WorkerEnv } from '../node/poolWorker.ts';
import { UserError } from '../errors.ts';

/** Where a worker finds a model. */
export interface ModelRef {
  dir: string;
  preset?: string;
}

/** A class's probability among the model's top five. */
export interface Top {
  index: number;
  label: string;
  p: number;
}

/** Per model the fields the API lists. */
export interface ModelInfo {
  name: string;
  description: string;
  architecture: string;
  inputShape: [number, number, number];
  labels: string[];
  hasCam: boolean;
}

/** The images at `paths` fitted to the model's input ([N, H, W, C] in [0, 1]; the caller owns it). */
async function loadImages(model: Classifier, paths: string[]): Promise<tf.Tensor4D> {
  if (paths.length === 0) throw new UserError('give at least one image');
  const [h, w, c] = model.inputShape;
  const ds = await loadImageDataset(paths, {
    size: [h, w],
    channels: c as 1 | 3,
    fit: model.card.preprocess.resize,
  });
  const { x, y } = getBatch(
    ds,
    paths.map((_, i) => i),
  );
  y.dispose();
  return x;
}

/** Top five classes per row of logits. */
function top5(model: Classifier, logits: tf.Tensor2D): Top[][] {
  const p = tf.tidy(() => tf.softmax(logits)).arraySync() as number[][];
  return p.map((row) =>
    row
      .map((v, i) => ({ index: i, label: model.labels[i], p: v }))
      .sort((a, b) => b.p - a.p)
      .slice(0, 5),
  );
}

/** Pixels [H, W, C] in [0, 1] of image `i` of x. */
function pixels(x: tf.Tensor4D, i: number): { data: Float32Array; shape: [number, number, number] } {
  const [, h, w, c] = x.shape;
  const data = tf.tidy(() => tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]).dataSync() as Float32Array);
  return { data: Float32Array.from(data), shape: [h, w, c] };
}

async function dataUrl(px: { data: Float32Array; shape: [number, number, number] }): Promise<string> {
  const png = await encodePng(px.data, px.shape);
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}

/**
 * The perturbation xAdv - x of image i made visible: 0.5 + d * (0.5 / max|d|) (grey is no change),
 * and the amplification used (0 when nothing changed).
 */
export function amplified(
  x: Float32Array,
  xAdv: Float32Array,
): { data: Float32Array; amplification: number; linf: number; l2: number } {
  let max = 0;
  let sq = 0;
  for (let i = 0; i < x.length; i++) {
    const d = xAdv[i] - x[i];
    max = Math.max(max, Math.abs(d));
    sq += d * d;
  }
  const a = max > 0 ? 0.5 / max : 0;
  const data = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) data[i] = 0.5 + (xAdv[i] - x[i]) * a;
  return { data, amplification: a, linf: max, l2: Math.sqrt(sq) };
}

/** Attacked images of x as the API shows them: adversarial image, perturbation, top five. */
async function attackedViews(model: Classifier, x: tf.Tensor4D, xAdv: tf.Tensor4D, success: boolean[]) {
  const logits = model.logits(xAdv);
  const tops = top5(model, logits);
  logits.dispose();
  const out = [];
  for (let i = 0; i < x.shape[0]; i++) {
    const a = pixels(x, i);
    const b = pixels(xAdv, i);
    const d = amplified(a.data, b.data);
    out.push({
      adversarial: await dataUrl(b),
      perturbation: await dataUrl({ data: d.data, shape: a.shape }),
      amplification: d.amplification,
      linf: d.linf,
      l2: d.l2,
      success: success[i],
      top5: tops[i],
    });
  }
  return out;
}

/** What a pathways job keeps in its worker between strengths. */
interface PathwaysState {
  model: Classifier;
  x: tf.Tensor4D;
  xt?: tf.Tensor4D;
  original: number;
  target: number;
  sweep: SweepStrength[];
}

/** Options of one pathways strength (the job's options). */
export interface PathwaysStepOptions {
  attack: string;
  attackOptions: Record<string, unknown>;
  strengths: number[];
  steps: number;
  stepFraction: number;
  keep: 'successful' | 'all';
  k: number;
  seed: number;
  batchSize: number;
  measure: HighlightMeasure;
  neurons: number;
  edges: number;
}

function checkClass(model: Classifier, c: unknown, what: string): number {
  const K = model.labels.length;
  if (!Number.isInteger(c) || (c as number) < 0 || (c as number) >= K)
    throw new UserError(`${what} class ${String(c)} is outside 0..${K - 1}; pick a class of the model`);
  return c as number;
}

/** The pathways layer `name` of the model, with `channel` in range; a UserError naming the valid ones otherwise. */
function pathwayLayer(model: Classifier, name: string, channel: number) {
  const layers = pathwayGraph(model).layers;
  const l = layers.find((x) => x.name === name);
  if (!l)
    throw new UserError(
      `layer '${String(name).slice(0, 60)}' is not a pathways layer of ${model.card.name}; use one of ${layers.map((x) => x.name).join(', ')}`,
    );
  if (l.logits || !l.tap) throw new UserError(`layer '${name}' is the logits unit; pick a hidden layer`);
  if (!Number.isInteger(channel) || channel < 0 || channel >= l.channels)
    throw new UserError(`channel ${channel} is outside 0..${l.channels - 1} of layer '${name}'`);
  return l;
}

const stateKey = (job: string) => `srv-pathways:${job}`;

function pathwaysState(env: WorkerEnv, job: string): PathwaysState {
  const s = env.state.get(stateKey(job)) as PathwaysState | undefined;
  if (!s) throw new Error(`pathways job ${job} was not started in this worker`);
  return s;
}

function dropState(env: WorkerEnv, job: string): void {
  const s = env.state.get(stateKey(job)) as PathwaysState | undefined;
  if (!s) return;
  env.state.delete(stateKey(job));
  tf.dispose([s.x, ...(s.xt ? [s.xt] : []), ...s.sweep.map((w) => w.x)]);
}

export const TASKS: Record<string, TaskHandler> = {
  /**
   * Loads a model into the worker's cache and runs one gradient pass on a blank image (the kernels
   * made ready), so that a job on it starts computing at once: the server asks for it when a page
   * opens a model.
   */
  async srvWarm(p: { model: ModelRef }, env) {
    const m = await env.classifier(p.model.dir, p.model.preset);
    const t0 = performance.now();
    tf.tidy(() => {
      const x = tf.zeros([1, ...m.inputShape]) as tf.Tensor4D;
      const g = tf.grad((v: tf.Tensor) => tf.sum(m.logits(v as tf.Tensor4D)))(x);
      g.dataSync();
    });
    return { value: { ms: Math.round(performance.now() - t0) } };
  },

  /** The first `n` images of class `c` in the model's dataset `spec`, as float pixels. */
  async srvSamples(p: { model: ModelRef; spec: string; c: number; n: number; dataDir?: string }, env) {
    const model = await env.classifier(p.model.dir, p.model.preset);
    const c = checkClass(model, p.c, 'sample');
    const ds = await loadDatasetFor(model, p.spec, { dataDir: p.dataDir });
    const idx: number[] = [];
    for (let i = 0; i < ds.size && idx.length < p.n; i++) if (ds.labels[i] === c) idx.push(i);
    const x = floatPixels(ds, idx);
    return {
      value: { x, shape: [idx.length, ...ds.shape], names: idx.map((i) => `${p.spec}[${i}]`) },
      transfer: [x.buffer as ArrayBuffer],
    };
  },

  async srvModelInfo(p: { model: ModelRef }, env): Promise<{ value: ModelInfo }> {
    const m = await env.classifier(p.model.dir, p.model.preset);
    const l = m.card.layers;
    return {
      value: {
        name: m.card.name,
        description: m.card.description ?? '',
        architecture: m.card.architecture,
        inputShape: m.inputShape,
        labels: m.labels,
        hasCam: Boolean(l?.camFeatures && l?.camDense),
      },
    };
  },

  async srvPathwaysStart(
    p: {
      job: string;
      model: ModelRef;
      images: string[];
      targetImages?: string[];
      original: number | 'predicted';
      target: number;
    },
    env,
  ) {
    const model = await env.classifier(p.model.dir, p.model.preset);
    const target = checkClass(model, p.target, 'target');
    dropState(env, p.job);
    const x = await loadImages(model, p.images);
    let xt: tf.Tensor4D | undefined;
    let clean: Top[][];
    let original: number;
    try {
      const logits = model.logits(x);
      clean = top5(model, logits);
      logits.dispose();
      original = p.original === 'predicted' ? clean[0][0].index : checkClass(model, p.original, 'original');
      if (original === target)
        throw new UserError(
          `the target class must differ from the original class (${model.labels[original]}${p.original === 'predicted' ? ', the prediction of the first image' : ''}); pick another target`,
        );
      xt = p.targetImages?.length ? await loadImages(model, p.targetImages) : undefined;
    } catch (e) {
      x.dispose();
      throw e;
    }
    env.state.set(stateKey(p.job), { model, x, xt, original, target, sweep: [] } satisfies PathwaysState);
    return { value: { clean, original } };
  },

  /** Strength `k` of the job: attacks, then the pathways of strengths 0..k. */
  async srvPathwaysStrength(
    p: { job: string; k: number; options: PathwaysStepOptions; provenanceSlot: string },
    env,
  ) {
    const s = pathwaysState(env, p.job);
    const o = p.options;
    if (p.k !== s.sweep.length) throw new Error(`pathways job ${p.job}: strength ${p.k} asked out of order`);
    const t0 = performance.now();
    // The same attack call (and seed) as the k-th strength of attackSweep, keeping every image to show it.
    const [step] = attackSweep(s.model, s.x, s.target, {
      attack: o.attack,
      attackOptions: o.attackOptions,
      strengths: [o.strengths[p.k]],
      steps: o.steps,
      stepFraction: o.stepFraction,
      keep: 'all',
      batchSize: o.batchSize,
      seed: o.seed + 7 * p.k,
    });
    const attackMs = performance.now() - t0;
    let views;
    try {
      views = await attackedViews(s.model, s.x, step.x, step.success);
    } catch (e) {
      step.x.dispose();
      throw e;
    }
    const kept = step.success.flatMap((ok, i) => (ok || o.keep === 'all' ? [i] : []));
    const xk =
      kept.length === step.x.shape[0]
        ? step.x
        : tf.tidy(() => tf.gather(step.x, tf.tensor1d(kept, 'int32'), 0) as tf.Tensor4D);
    if (xk !== step.x) step.x.dispose();
    s.sweep.push({ ...step, kept, x: xk });
    const r = pathways(
      s.model,
      { original: s.x, target: s.xt },
      {
        original: s.original,
        target: s.target,
        attack: o.attack,
        k: o.k,
        batchSize: o.batchSize,
        sweep: s.sweep,
      },
    );
    r.attack = { ...r.attack, steps: o.steps, stepFraction: o.stepFraction, keep: o.keep, seed: o.seed };
    r.timings.attack = Math.round(attackMs);
    const files = pathwaysReport(r, {
      provenance: {},
      measure: o.measure,
      neurons: o.neurons,
      edges: o.edges,
    });
    const text = (name: string) => files.find((f) => f.path === name)!.content;
    // JSON text made here, off the event loop; the server puts the job's provenance into the slot.
    const pw = JSON.parse(text('pathways.json')) as Record<string, unknown>;
    pw.provenance = JSON.parse(p.provenanceSlot) as string;
    return {
      value: {
        pathways: JSON.stringify(pw),
        neurons: text('neurons.json'),
        edges: text('edges.json'),
        images: views,
      },
    };
  },

  /** Lucid-style feature visualisation of neuron `layer:channel` (a pathways layer's name). */
  async srvFeatureVis(
    p: { model: ModelRef; layer: string; channel: number; steps: number; seed: number },
    env,
  ) {
    const model = await env.classifier(p.model.dir, p.model.preset);
    const l = pathwayLayer(model, p.layer, p.channel);
    const r = featureVis(model, l.tap, p.channel, { steps: p.steps, seed: p.seed });
    try {
      return {
        value: {
          image: await dataUrl(pixels(r.image, 0)),
          activation: r.activation,
          objective: r.objective,
        },
      };
    } finally {
      r.image.dispose();
    }
  },

  /**
   * The `count` images (the given ones, or the first `limit` of the model's dataset) that activate
   * neuron `layer:channel` most, cropped to its receptive field around the peak.
   */
  async srvPatches(
    p: {
      model: ModelRef;
      layer: string;
      channel: number;
      images: string[];
      spec?: string;
      limit: number;
      count: number;
      dataDir?: string;
    },
    env,
  ) {
    const model = await env.classifier(p.model.dir, p.model.preset);
    const l = pathwayLayer(model, p.layer, p.channel);
    let x: tf.Tensor4D;
    let names: string[];
    if (p.images.length) {
      x = await loadImages(model, p.images);
      names = p.images.map((f) =>
        f
          .split('/')
          .pop()!
          .replace(/\.png$/, ''),
      );
    } else if (p.spec) {
      const ds = await loadDatasetFor(model, p.spec, { dataDir: p.dataDir, limit: p.limit });
      const idx = Array.from({ length: Math.min(p.limit, ds.size) }, (_, i) => i);
      const b = getBatch(ds, idx);
      b.y.dispose();
      x = b.x;
      names = idx.map((i) => `${p.spec}[${i}]`);
    } else throw new UserError('give images for the patches (this model has no dataset on the server)');
    try {
      const [list] = datasetPatches(model, l.tap, [p.channel], x, { count: p.count });
      const out = [];
      for (const q of list)
        out.push({
          image: await dataUrl(patchPixels(x, q)),
          source: names[q.image],
          activation: q.activation,
          at: q.at,
          box: q.box,
        });
      return { value: { patches: out } };
    } finally {
      x.dispose();
    }
  },

  /**
   * Per image (attacked ones, as the explorer's per-image drill-down sends), per hidden pathways layer:
   * the channels it exploits (imageExploits), given the original and target classes' medians per channel.
   */
  async srvExploits(
    p: {
      model: ModelRef;
      images: string[];
      k: number;
      neurons: Record<string, { original: (number | null)[]; target: (number | null)[] }>;
    },
    env,
  ) {
    const model = await env.classifier(p.model.dir, p.model.preset);
    const neurons: Record<string, unknown> = {};
    for (const l of pathwayGraph(model).layers.filter((x) => !x.logits)) {
      const n = Object.hasOwn(p.neurons, l.name) ? p.neurons[l.name] : undefined;
      if (!n)
        throw new UserError(
          `neurons has no layer '${l.name}' of ${model.card.name}; send every hidden pathways layer of the result`,
        );
      if (n.original.length !== l.channels || n.target.length !== l.channels)
        throw new UserError(
          `neurons.${l.name} has ${n.original.length} and ${n.target.length} medians; layer '${l.name}' has ${l.channels} channels`,
        );
      neurons[l.name] = { original: { median: n.original }, target: { median: n.target } };
    }
    const r = { groupOptions: { k: p.k }, neurons } as unknown as PathwaysResult;
    const x = await loadImages(model, p.images);
    try {
      return { value: { images: imageExploits(model, r, x) } };
    } finally {
      x.dispose();
    }
  },

  srvPathwaysEnd(p: { job: string }, env) {
    dropState(env, p.job);
    return { value: true };
  },

  async srvAttack(
    p: {
      model: ModelRef;
      images: string[];
      attack: string;
      attackOptions: Record<string, unknown>;
      target?: number;
      strength: number;
      seed: number;
    },
    env,
  ) {
    const model = await env.classifier(p.model.dir, p.model.preset);
    const run = attack(p.attack);
    const x = await loadImages(model, p.images);
    try {
      const logits = model.logits(x);
      const before = top5(model, logits);
      const pred = tf.tidy(() => tf.argMax(logits, 1)) as tf.Tensor1D;
      logits.dispose();
      const target = p.target === undefined ? undefined : checkClass(model, p.target, 'target');
      const y = target === undefined ? pred : (tf.fill([x.shape[0]], target, 'int32') as tf.Tensor1D);
      if (y !== pred) pred.dispose();
      let r;
      try {
        r = run(model, { x, y }, { seed: p.seed, ...p.attackOptions, eps: p.strength, target });
      } finally {
        y.dispose();
      }
      r.logits.dispose();
      try {
        const views = await attackedViews(model, x, r.xAdv, r.success);
        return { value: { images: views.map((v, i) => ({ ...v, before: before[i] })) } };
      } finally {
        r.xAdv.dispose();
      }
    } finally {
      x.dispose();
    }
  },

  async srvSaliency(
    p: {
      model: ModelRef;
      images: string[];
      method: string;
      options: Record<string, unknown>;
      target?: number;
    },
    env,
  ) {
    const model = await env.classifier(p.model.dir, p.model.preset);
    const facts = explainerFacts(p.method);
    if (facts.needsCam && !(model.card.layers?.camFeatures && model.card.layers?.camDense))
      throw new UserError(
        `${model.card.name} has no CAM head (GAP + dense); use grad-cam instead of ${p.method}`,
      );
    const x = await loadImages(model, p.images);
    const y = tf.zeros([x.shape[0]], 'int32') as tf.Tensor1D;
    try {
      const target = p.target === undefined ? 'predicted' : checkClass(model, p.target, 'target');
      const r = explainer(p.method)(model, { x, y }, { ...p.options, target });
      try {
        const out = [];
        for (let i = 0; i < x.shape[0]; i++) {
          const plane = mapAt(r.maps, i);
          const { values, scale } = displayValues(plane);
          const [h, w] = [r.maps.shape[1], r.maps.shape[2]];
          const png = await encodePng(renderMap(plane).data, [h, w, 3]);
          out.push({
            map: `data:image/png;base64,${Buffer.from(png).toString('base64')}`,
            width: w,
            height: h,
            values: Array.from(values, (v) => Number(v.toPrecision(4))),
            scale,
            target: r.targets[i],
            targetLabel: model.labels[r.targets[i]],
            score: r.scores?.[i] ?? null,
          });
        }
        return { value: { images: out } };
      } finally {
        r.maps.dispose();
      }
    } finally {
      tf.dispose([x, y]);
    }
  },

  async srvCurve(
    p: {
      model: ModelRef;
      images: string[];
      attack: string;
      attackOptions: Record<string, unknown>;
      strengths: number[];
      target?: number;
      seed: number;
    },
    env,
  ) {
    const model = await env.classifier(p.model.dir, p.model.preset);
    const run = attack(p.attack);
    const x = await loadImages(model, p.images);
    const pred = tf.tidy(() => tf.argMax(model.logits(x), 1)) as tf.Tensor1D;
    const clean = Array.from(pred.dataSync());
    const target = p.target === undefined ? undefined : checkClass(model, p.target, 'target');
    const y = target === undefined ? pred : (tf.fill([x.shape[0]], target, 'int32') as tf.Tensor1D);
    try {
      const points = [];
      for (const eps of p.strengths) {
        const r = run(model, { x, y }, { seed: p.seed, ...p.attackOptions, eps, target });
        const prob = tf.tidy(() => tf.softmax(r.logits)).arraySync() as number[][];
        const now = tf.tidy(() => tf.argMax(r.logits, 1)).arraySync() as number[];
        tf.dispose([r.xAdv, r.logits]);
        const n = clean.length;
        points.push({
          strength: eps,
          accuracy: now.filter((c, i) => c === clean[i]).length / n,
          confidence: prob.reduce((s, row, i) => s + row[clean[i]], 0) / n,
          targetConfidence: target === undefined ? null : prob.reduce((s, row) => s + row[target], 0) / n,
          success: r.success.filter(Boolean).length / n,
        });
      }
      return { value: { clean: clean.map((c) => ({ index: c, label: model.labels[c] })), points } };
    } finally {
      tf.dispose([x, pred, ...(y !== pred ? [y] : [])]);
    }
  },
};
