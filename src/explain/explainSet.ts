/**
 * Explaining a set of images with several models and methods, for figures that compare them
 * (AT-CNN's: a standard and a robust model on the same images): every (pass of images, model,
 * method) is an independent {@link ExplainItem} run by an {@link ExplainRunner} (this thread by
 * default; a worker pool in advlens/node), each pass with its own seed (seed + index of its first
 * image), so any runner gives the maps of one thread. Per map: the target and its probability,
 * statistics of the raw map, the explainer's per-image numbers (IG's completeness, CAM's bias), and
 * display values on one scale shared by the models for the same image and method (the 99th
 * percentile of |map| over all of them), so their brightness compares.
 *
 *   const set = await explainSet({ models, data, inputs, methods: ['gradient', 'cam'],
 *     options: { seed: 0 }, targets: models.map(() => 'predicted') });
 *   set.rows[0].models[1].methods.cam.stats.max; set.pictures[0].values[1][1] // [H * W] in [0, 1]
 */
import * as tf from '@tensorflow/tfjs-core';
import { floatPixels, getBatch, type Dataset } from '../data/dataset.ts';
import type { Classifier } from '../models/classifier.ts';
import { UserError } from '../errors.ts';
import {
  displayDefaults,
  normalise,
  reduceChannels,
  sharedScale,
  type Colormap,
  type Plane,
} from './display.ts';
import { explainer, type ExplainOptions, type ExplainTarget } from './index.ts';
import { localExplainRunner, type ExplainItemOut, type ExplainRunner } from './runner.ts';

/** Images explained per item (each explainer batches internally by `batchSize`). */
export const IMAGES_PER_PASS = 16;
/** Display percentile: each map is divided by this percentile of |map|, shared across models. */
export const DISPLAY_PERCENTILE = 99;

/** min, max, mean and mean |v| of a map's values. */
export interface MapStats {
  min: number;
  max: number;
  mean: number;
  meanAbs: number;
}

/** {@link MapStats} of `v`. */
export function mapStats(v: ArrayLike<number>): MapStats {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let abs = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
    abs += Math.abs(x);
  }
  return { min, max, mean: sum / v.length, meanAbs: abs / v.length };
}

/** One map of one image: its target, statistics, display scale and the explainer's per-image numbers. */
export interface ExplainMap {
  target: { index: number; label: string; probability: number };
  stats: MapStats;
  /** [h, w, c] of the raw map (7x7x1 for CAM on a 28x28 input). */
  mapShape: number[];
  /** The map was upsampled (bilinear) to the input size for display. */
  upsampled: boolean;
  /** The display scale, shared by the models for this image and method (its own with `displayScale` each). */
  scale: number;
  /** Per-image numbers of the explainer: score, baselineScore, delta, relativeError, bias. */
  [k: string]: unknown;
}

/** One image: its name and label, and per model its prediction and a map per method. */
export interface ExplainRow {
  index: number;
  input: string;
  label: { index: number; name: string } | null;
  models: {
    model: string;
    predicted: { index: number; label: string; probability: number };
    methods: Record<string, ExplainMap>;
  }[];
}

/** What a row is drawn from: the input and each map's display values. */
export interface ExplainPictures {
  /** The input [H, W, C] in [0, 1]. */
  image: Plane;
  /** values[model][method index]: display values [H * W], in [0, 1] (abs) or [-1, 1] (signed). */
  values: Float32Array[][];
}

/** Options of {@link explainSet}. */
export interface ExplainSetOptions {
  models: Classifier[];
  /** Names of the models (default {@link uniqueModelNames}). */
  names?: string[];
  data: Dataset;
  /** A name per image of `data` (file names, `mnist:test[3]`). */
  inputs: string[];
  /** The data's labels are real (a dataset), not placeholders (image files). */
  labelled: boolean;
  /** Explainer names (src/explain/index.ts). */
  methods: string[];
  /** Options of every explainer; `seed` is the first pass's seed (default 0). */
  options: ExplainOptions;
  /** The class explained, per model. */
  targets: ExplainTarget[];
  /** Display: magnitudes (default) or signed values, and the colormap. */
  display?: { sign?: 'abs' | 'signed'; colormap?: Colormap };
  /**
   * `shared` (default): the maps of one image and method share one scale across the models, so
   * their brightness compares; `each`: every map on its own scale (its own 99th percentile), so each
   * model's pattern shows even where its gradients are much smaller, and its display values (and
   * shape score) do not depend on the other models of the set.
   */
  displayScale?: 'shared' | 'each';
  /** Runs the items (default {@link localExplainRunner} on `models`). */
  runner?: ExplainRunner;
  /** Passes submitted ahead of the one being read (a pool's size keeps its workers busy; default 0). */
  lookahead?: number;
  onProgress?: (done: number, total: number, what: string) => void;
}

/** The result of {@link explainSet}. */
export interface ExplainSetResult {
  names: string[];
  methods: string[];
  /** Input shape [H, W, C]. */
  shape: [number, number, number];
  rows: ExplainRow[];
  /** Parallel to `rows`. */
  pictures: ExplainPictures[];
  /** The explainers' options as they echo them (defaults filled in), per model and method. */
  explainers: Record<string, Record<string, Record<string, unknown>>>;
  /** How the maps are displayed (for provenance). */
  display: ReturnType<typeof displayDefaults> & { sharedScale: string; upsampling: string };
  /** How seeds were assigned (for provenance). */
  seeds: string;
}

/** File-name-safe model names, made unique with -2, -3, ... */
export function uniqueModelNames(models: Classifier[]): string[] {
  const seen = new Map<string, number>();
  return models.map((m) => {
    const base = m.card.name.replace(/[^A-Za-z0-9._-]+/g, '-') || 'model';
    const k = (seen.get(base) ?? 0) + 1;
    seen.set(base, k);
    return k === 1 ? base : `${base}-${k}`;
  });
}

/** Per-image numbers an explainer may report (IG's completeness, CAM's bias), by their names here. */
const PER_IMAGE: Record<string, string> = {
  scores: 'score',
  baselineScores: 'baselineScore',
  delta: 'delta',
  relativeError: 'relativeError',
  bias: 'bias',
};

/**
 * Checks before any work that the models can be compared (one input shape) and that every method
 * runs on every model: each once on a blank image with one sample and one path point, so a method a
 * model cannot do (CAM without a GAP head, a missing layer) fails at once with a {@link UserError}
 * naming both.
 */
export function checkExplainSet(
  models: Classifier[],
  names: string[],
  methods: string[],
  base: ExplainOptions,
): void {
  models.forEach((m, k) => {
    if (m.inputShape.join('x') !== models[0].inputShape.join('x'))
      throw new UserError(
        `models must share the input shape to be compared: ${names[0]} takes ${models[0].inputShape.join('x')}, ${names[k]} takes ${m.inputShape.join('x')}`,
      );
  });
  for (const [k, model] of models.entries()) {
    const [h, w, c] = model.inputShape;
    const x = tf.zeros([1, h, w, c]) as tf.Tensor4D;
    const y = tf.zeros([1], 'int32') as tf.Tensor1D;
    try {
      for (const method of methods) {
        try {
          const r = explainer(method)(
            model,
            { x, y },
            { ...base, target: 0, samples: 1, steps: 1, batchSize: 1 },
          );
          r.maps.dispose();
        } catch (e) {
          if (e instanceof UserError) throw new UserError(`${method} on ${names[k]}: ${e.message}`);
          throw e;
        }
      }
    } finally {
      tf.dispose([x, y]);
    }
  }
}

/**
 * Explains every image of `o.data` with every model and method (see the file's comment): items
 * of {@link IMAGES_PER_PASS} images run by `o.runner`, read back pass by pass; the display scale of
 * an image and method is the {@link DISPLAY_PERCENTILE}th percentile of |map| over all models.
 */
export async function explainSet(o: ExplainSetOptions): Promise<ExplainSetResult> {
  const { models, data, methods } = o;
  const names = o.names ?? uniqueModelNames(models);
  const [h, w, c] = models[0].inputShape;
  const seed = o.options.seed ?? 0;
  const disp = displayDefaults(o.display);
  const each = o.displayScale === 'each';
  const per = h * w * c;
  const run = o.runner ?? localExplainRunner(models, data);
  const lookahead = o.lookahead ?? 0;
  const total = data.size * models.length * methods.length;
  const explainers: ExplainSetResult['explainers'] = {};
  const rowsOut: ExplainRow[] = [];
  const picturesOut: ExplainPictures[] = [];
  const passes: number[] = [];
  for (let s = 0; s < data.size; s += IMAGES_PER_PASS) passes.push(s);
  const submitted = new Map<number, Promise<ExplainItemOut>[]>();
  /** Starts the items of the pass at `s` (a pool runs them while earlier passes are read). */
  const submit = (s: number) => {
    if (s >= data.size || submitted.has(s)) return;
    const count = Math.min(IMAGES_PER_PASS, data.size - s);
    const outs = models.flatMap((_, k) =>
      methods.map((method) =>
        run({
          model: k,
          method,
          options: { ...o.options, seed: seed + s, target: o.targets[k] },
          start: s,
          count,
        }),
      ),
    );
    for (const p of outs) p.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    submitted.set(s, outs);
  };
  let done = 0;
  try {
    for (const s of passes) {
      for (let a = 0; a <= lookahead; a++) submit(s + a * IMAGES_PER_PASS);
      const outs = await Promise.all(submitted.get(s)!);
      submitted.delete(s);
      const idx = Array.from({ length: Math.min(IMAGES_PER_PASS, data.size - s) }, (_, i) => s + i);
      const batch = getBatch(data, idx);
      const pixels = floatPixels(data, idx);
      // display[method][model][image]: channel-reduced values at input size
      const display: Float32Array[][][] = methods.map(() => []);
      const rows: ExplainRow[] = idx.map((j) => ({
        index: j,
        input: o.inputs[j],
        label: o.labelled ? { index: data.labels[j], name: data.classNames[data.labels[j]] } : null,
        models: [],
      }));
      try {
        for (const [k, model] of models.entries()) {
          const probs = tf.tidy(() => tf.softmax(model.logits(batch.x)).arraySync() as number[][]);
          const top = probs.map((p) => p.indexOf(Math.max(...p)));
          rows.forEach((r, i) =>
            r.models.push({
              model: names[k],
              predicted: { index: top[i], label: model.labels[top[i]], probability: probs[i][top[i]] },
              methods: {},
            }),
          );
          for (const [m, method] of methods.entries()) {
            const r = outs[k * methods.length + m];
            if (s === 0)
              (explainers[names[k]] ??= {})[method] =
                'seed' in r.options ? { ...r.options, seed } : r.options;
            const [, mh, mw, mc] = r.shape;
            const big = r.display ?? r.raw;
            const bc = r.displayChannels;
            display[m].push(
              idx.map((_, i) =>
                reduceChannels(
                  { data: big.slice(i * h * w * bc, (i + 1) * h * w * bc), shape: [h, w, bc] },
                  disp.sign,
                  disp.reduce,
                ),
              ),
            );
            rows.forEach((row, i) => {
              const t = r.targets[i];
              const extra: Record<string, unknown> = {};
              for (const [key, as] of Object.entries(PER_IMAGE)) {
                const v = r.perImage[key];
                if (v) extra[as] = v[i];
              }
              row.models[k].methods[method] = {
                target: { index: t, label: model.labels[t], probability: probs[i][t] },
                stats: mapStats(r.raw.subarray(i * mh * mw * mc, (i + 1) * mh * mw * mc)),
                mapShape: [mh, mw, mc],
                upsampled: r.display !== null,
                scale: NaN,
                ...extra,
              };
            });
            done += idx.length;
            o.onProgress?.(done, total, `${names[k]} ${method}`);
          }
        }
      } finally {
        tf.dispose([batch.x, batch.y]);
      }
      // One display scale per image and method, shared by all models (or one per map: `each`).
      for (const [i, row] of rows.entries()) {
        const values: Float32Array[][] = models.map(() => []);
        for (const [m, method] of methods.entries()) {
          const raw = models.map((_, k) => display[m][k][i]);
          const shared = each ? NaN : sharedScale(raw, DISPLAY_PERCENTILE);
          for (const [k, entry] of row.models.entries()) {
            const scale = each ? sharedScale([raw[k]], DISPLAY_PERCENTILE) : shared;
            entry.methods[method].scale = scale;
            values[k][m] = normalise(raw[k], scale, disp.sign);
          }
        }
        rowsOut.push(row);
        picturesOut.push({ image: { data: pixels.slice(i * per, (i + 1) * per), shape: [h, w, c] }, values });
      }
    }
  } finally {
    // A failed item leaves the passes submitted ahead running; wait for them so nothing outlives the call.
    await Promise.allSettled([...submitted.values()].flat());
  }
  return {
    names,
    methods,
    shape: [h, w, c],
    rows: rowsOut,
    pictures: picturesOut,
    explainers,
    display: {
      ...disp,
      percentile: DISPLAY_PERCENTILE,
      sharedScale: each
        ? `every map on its own scale (--display-scale each): the ${DISPLAY_PERCENTILE}th percentile of its |map|`
        : `maps of one method on one image share one scale across the ${models.length} model(s): the ${DISPLAY_PERCENTILE}th percentile of |map| over all of them`,
      upsampling:
        'maps smaller than the input (CAM, Grad-CAM) are upsampled bilinearly for display; statistics are on the raw maps',
    },
    seeds: `images ${IMAGES_PER_PASS} at a time; a pass starting at image s uses seed ${seed} + s`,
  };
}
