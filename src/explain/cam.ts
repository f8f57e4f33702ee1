/**
 * Class activation maps. CAM: Zhou et al., "Learning Deep Features for Discriminative Localization",
 * CVPR 2016. For a network ending in features A [h, w, k], global average pooling and a dense layer
 * (gap-cnn, resnet) or in a 1x1 conv to the classes and GAP (darknet tiny), CAM_c = sum_k w_kc A_k,
 * and mean over positions of CAM_c + b_c = f_c(x) exactly; `bias` is returned so this can be checked.
 * Grad-CAM: Selvaraju et al., ICCV 2017: alpha_k = mean over positions of dS/dA_k on any named layer,
 * map = ReLU(sum_k alpha_k A_k) (ReLU optional). For a GAP+dense head without ReLU,
 * dS/dA_k(i,j) = w_kc / (h w), so Grad-CAM = CAM / (h w) exactly (ALGORITHMS.md section 2).
 * Options (CamOptions, GradCamOptions): `target` 'predicted', `score` 'logit' (the only one),
 * `batchSize` 32; Grad-CAM: `layer` (default the card's `layers.lastConv`, else `camFeatures`),
 * `relu` true. Input: images [N, H, W, C] in [0, 1]; maps [N, h, w, 1] at feature resolution; use
 * {@link upsample} for display. Layers models only.
 *
 *   const r = cam(model, batch);                      // r.maps [N, 7, 7, 1] on gap-cnn
 *   const big = upsample(r.maps, 28, 28); tf.dispose([r.maps, big]);
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Classifier } from '../models/classifier.ts';
import { preprocessTensor } from '../models/classifier.ts';
import type { CamOptions, GradCamOptions } from './types.ts';
import { resolveTargets, scoreOf } from './scores.ts';
import { COMMON_EXPLAIN_SPECS, defineExplainer } from './record.ts';
import { concatChunks } from '../engine/chunks.ts';
import { UserError } from '../errors.ts';
import type { OptionSpecs } from '../options.ts';

/** CAM's options (Zhou et al. 2016): the class explained and the score; the map is the GAP head's weighted sum of the last conv layer. */
export const CAM_OPTIONS = {
  target: COMMON_EXPLAIN_SPECS.target,
  score: {
    ...COMMON_EXPLAIN_SPECS.score,
    choices: ['logit'],
    doc: 'score explained: the class logit (only)',
  },
  batchSize: { ...COMMON_EXPLAIN_SPECS.batchSize, default: 32, defaultText: undefined },
} satisfies OptionSpecs<CamOptions>;

/** Grad-CAM's options (Selvaraju et al. 2017): CAM's, plus the layer explained and whether negative values are cut (ReLU). */
export const GRAD_CAM_OPTIONS = {
  ...CAM_OPTIONS,
  layer: {
    type: 'string',
    defaultText: "the card's last conv",
    doc: 'layer explained',
    metavar: 'name',
  },
  relu: { type: 'boolean', default: true, doc: 'ReLU of the map (off: keep negative values)' },
} satisfies OptionSpecs<GradCamOptions>;

function layersModel(model: Classifier, method: string): tfl.LayersModel {
  if (!(model.model instanceof tfl.LayersModel))
    throw new UserError(
      `${method} needs a tfjs layers model; this is a graph model (use gradient or integrated-gradients)`,
    );
  return model.model;
}

/**
 * The CAM head of a model: its feature layer, and the class weights [k, K] (caller owns) and biases
 * [K] of the dense layer or 1x1 conv after it, from the card's `layers.camFeatures` / `camDense`.
 */
export function camHead(model: Classifier): { features: string; weights: tf.Tensor2D; bias: Float32Array } {
  const lm = layersModel(model, 'CAM');
  const names = model.card.layers ?? {};
  if (!names.camFeatures || !names.camDense)
    throw new UserError(
      `CAM needs a GAP + dense head named in the model card (layers.camFeatures, layers.camDense); ${model.card.name} has none: use grad-cam`,
    );
  const dense = lm.getLayer(names.camDense);
  const ws = dense.getWeights();
  const kernel = ws[0];
  const k = kernel.shape[kernel.shape.length - 2];
  const classes = kernel.shape[kernel.shape.length - 1];
  if (kernel.rank === 4 && (kernel.shape[0] !== 1 || kernel.shape[1] !== 1))
    throw new UserError(
      `CAM needs a dense layer or 1x1 conv as ${names.camDense}; its kernel is [${kernel.shape}]`,
    );
  const bias = ws.length > 1 ? (ws[1].dataSync() as Float32Array) : new Float32Array(classes);
  return { features: names.camFeatures, weights: tf.reshape(kernel, [k, classes]), bias };
}

/** CAM_t = sum_k w_kt A_k [N, h, w, 1] (no bias), with `bias` b_t per image (caller owns `maps`). */
export const camExplainer = defineExplainer<CamOptions, typeof CAM_OPTIONS>({
  name: 'cam',
  summary: 'CAM (Zhou et al., CVPR 2016): class weights of a GAP + dense head times the features',
  options: CAM_OPTIONS,
  facts: {
    samplesPerImage: null,
    needsCam: true,
    needsLayersModel: true,
    signed: true,
    resolution: 'features',
  },
  explain: (model, batch, c) => {
    const targets = resolveTargets(model, batch, c.target);
    const head = camHead(model);
    const maps = concatChunks(batch.x.shape[0], c.batchSize, (i, m) =>
      tf.tidy(() => {
        const xs = tf.slice(batch.x, [i, 0, 0, 0], [m, -1, -1, -1]) as tf.Tensor4D;
        const { activations, logits } = model.taps(xs, [head.features]);
        logits.dispose();
        const a = activations[head.features] as tf.Tensor4D; // [m, h, w, k]
        if (a.rank !== 4 || a.shape[3] !== head.weights.shape[0])
          throw new UserError(
            `CAM features ${head.features} [${a.shape}] do not match the head's ${head.weights.shape[0]} inputs`,
          );
        const wt = tf.gather(tf.transpose(head.weights), tf.tensor1d(targets.slice(i, i + m), 'int32')); // [m, k]
        return tf.sum(tf.mul(a, tf.reshape(wt, [m, 1, 1, -1])), 3, true) as tf.Tensor4D;
      }),
    );
    head.weights.dispose();
    return {
      maps,
      targets,
      bias: targets.map((t) => head.bias[t]),
      options: {
        method: 'cam',
        target: c.target,
        score: c.score,
        batchSize: c.batchSize,
        layer: head.features,
        dense: model.card.layers?.camDense,
      },
    };
  },
});

/** CAM (see the file's header); validates its options. */
export const cam = camExplainer.run;

/**
 * The model's logits as a function of the named layer's output `a`, everything else computed from
 * the preprocessed input `v` (paths that bypass the layer are constants). Evaluates the layer graph
 * eagerly, so the model gains no nodes. Call inside a tidy.
 */
function logitsFromLayer(
  model: Classifier,
  lm: tfl.LayersModel,
  layer: tfl.layers.Layer,
  v: tf.Tensor,
  a: tf.Tensor,
): tf.Tensor2D {
  const memo = new Map<number, tf.Tensor>();
  lm.inputs.forEach((t) => memo.set(t.id, v));
  const ev = (t: tfl.SymbolicTensor): tf.Tensor => {
    const hit = memo.get(t.id);
    if (hit) return hit;
    let out: tf.Tensor;
    if (t.sourceLayer === layer) out = a;
    else {
      if (t.inputs.length === 0) throw new Error(`cannot evaluate ${t.name}: it has no inputs`);
      const ins = t.inputs.map(ev);
      const r = t.sourceLayer.apply(ins.length === 1 ? ins[0] : ins, { ...t.callArgs, training: false }) as
        tf.Tensor | tf.Tensor[];
      out = Array.isArray(r) ? r[t.outputTensorIndex ?? 0] : r;
    }
    memo.set(t.id, out);
    return out;
  };
  const y = ev(lm.outputs[0] as tfl.SymbolicTensor);
  return (model.card.output === 'probabilities' ? tf.log(tf.add(y, 1e-12)) : y) as tf.Tensor2D;
}

/** Grad-CAM on a named conv layer: sum_k mean(dS/dA_k) A_k, ReLU optional; [N, h, w, 1] (caller owns). */
export const gradCamExplainer = defineExplainer<GradCamOptions, typeof GRAD_CAM_OPTIONS>({
  name: 'grad-cam',
  summary: 'Grad-CAM (Selvaraju et al., ICCV 2017): features weighted by their mean gradient',
  options: GRAD_CAM_OPTIONS,
  facts: {
    samplesPerImage: null,
    needsCam: false,
    needsLayersModel: true,
    signed: false,
    resolution: 'features',
  },
  explain: (model, batch, o) => {
    const lm = layersModel(model, 'Grad-CAM');
    const name = o.layer ?? model.card.layers?.lastConv ?? model.card.layers?.camFeatures;
    if (!name)
      throw new UserError(
        `name the layer for Grad-CAM (option 'layer'); ${model.card.name}'s card names none`,
      );
    if (!model.layerNames().includes(name))
      throw new UserError(
        `layer '${name}' not found in the model; choose one of: ${model.layerNames().join(', ')}`,
      );
    const layer = lm.getLayer(name);
    const shape = layer.outputShape as (number | null)[];
    if (shape.length !== 4 || Array.isArray(shape[0]))
      throw new UserError(`Grad-CAM needs a conv layer with output [N, h, w, k]; ${name} gives [${shape}]`);
    const { relu } = o;
    const targets = resolveTargets(model, batch, o.target);
    const maps = concatChunks(batch.x.shape[0], o.batchSize, (i, m) =>
      tf.tidy(() => {
        const xs = tf.slice(batch.x, [i, 0, 0, 0], [m, -1, -1, -1]) as tf.Tensor4D;
        const { activations, logits } = model.taps(xs, [name]);
        logits.dispose();
        const a = activations[name] as tf.Tensor4D;
        const v = preprocessTensor(model.card, xs);
        const t = tf.tensor1d(targets.slice(i, i + m), 'int32');
        const g = tf.grad((av: tf.Tensor) =>
          tf.sum(scoreOf(logitsFromLayer(model, lm, layer, v, av), t, 'logit')),
        )(a);
        const alpha = tf.mean(g, [1, 2], true); // [m, 1, 1, k]
        const map = tf.sum(tf.mul(alpha, a), 3, true) as tf.Tensor4D;
        return relu ? (tf.relu(map) as tf.Tensor4D) : map;
      }),
    );
    return {
      maps,
      targets,
      options: {
        method: 'grad-cam',
        target: o.target,
        score: o.score,
        batchSize: o.batchSize,
        layer: name,
        relu,
      },
    };
  },
});

/** Grad-CAM (see the file's header); validates its options. */
export const gradCam = gradCamExplainer.run;

/** Bilinear upsampling of maps [N, h, w, c] to [N, height, width, c] for display (caller owns). */
export function upsample(maps: tf.Tensor4D, height: number, width: number): tf.Tensor4D {
  return tf.image.resizeBilinear(maps, [height, width], false, true);
}
