import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { UserError } from '../errors.ts';
import type { ModelCard } from './card.ts';
import { fusedInference, fusedInferenceOn, type FusedRun } from './fusedInference.ts';

/**
 * Any tfjs model with what it takes to use it correctly: preprocessing (so every epsilon is in [0,1]
 * pixel units), labels, inference mode, and named activation taps.
 */
export interface Classifier {
  readonly model: tfl.LayersModel | GraphModel;
  readonly card: ModelCard;
  /** Input shape [H, W, C] the model expects (after the user's images are fitted to it). */
  readonly inputShape: [number, number, number];
  readonly labels: string[];
  /** Logits [N, K] for images x [N, H, W, C] in [0, 1]; inference mode; differentiable; caller owns. */
  logits(x: tf.Tensor4D): tf.Tensor2D;
  /** Logits in training mode (dropout and batch-norm statistics active), for the training loop. */
  trainLogits(x: tf.Tensor4D): tf.Tensor2D;
  /** Activations of the named layers plus the logits, in one differentiable pass; caller owns. */
  taps(x: tf.Tensor4D, names: string[]): { activations: Record<string, tf.Tensor>; logits: tf.Tensor2D };
  /** Names of the layers (LayersModel) or nodes (GraphModel) that can be tapped. */
  layerNames(): string[];
  /** Trainable variables (LayersModel only). */
  trainableVariables(): tf.Variable[];
}

/** Maps [0,1] pixels to what the model was trained on (scale, then mean/std), inside the graph. */
export function preprocessTensor(card: ModelCard, x: tf.Tensor4D): tf.Tensor4D {
  const p = card.preprocess;
  return tf.tidy(() => {
    let v: tf.Tensor4D = x;
    const [lo, hi] = p.scale;
    if (lo !== 0 || hi !== 1) v = tf.add(tf.mul(v, hi - lo), lo);
    if (p.mean) v = tf.sub(v, tf.tensor1d(p.mean));
    if (p.std) v = tf.div(v, tf.tensor1d(p.std));
    return v;
  });
}

function checkInput(x: tf.Tensor, shape: [number, number, number]): void {
  if (x.rank !== 4 || x.shape[1] !== shape[0] || x.shape[2] !== shape[1] || x.shape[3] !== shape[2]) {
    throw new UserError(
      `input of shape [${x.shape}] does not fit the model, which takes [N, ${shape.join(', ')}]; resize the images to ${shape[0]}x${shape[1]} with ${shape[2]} channel(s)`,
    );
  }
}

/** Wraps a model and its card as a {@link Classifier}. */
export function makeClassifier(model: tfl.LayersModel | GraphModel, card: ModelCard): Classifier {
  const inputShape: [number, number, number] = [card.preprocess.height, card.preprocess.width, card.preprocess.channels];
  const labels = card.labels;
  const isLayers = model instanceof tfl.LayersModel;
  const toLogits = (y: tf.Tensor): tf.Tensor2D =>
    (card.output === 'probabilities' ? tf.log(tf.add(y, 1e-12)) : y) as tf.Tensor2D;
  /** Per set of tapped layers: a model with their outputs and the logits, and its fused plan (on first use). */
  const tapModels = new Map<string, { model: tfl.LayersModel; plan?: FusedRun | null }>();

  // Inference through fused conv / batch norm / activation chains where the model has them (the
  // same bits, fewer passes): planned on first use.
  let plan: FusedRun | null | undefined;
  const run = (x: tf.Tensor4D, training: boolean): tf.Tensor2D =>
    tf.tidy(() => {
      checkInput(x, inputShape);
      const v = preprocessTensor(card, x);
      if (isLayers && !training && fusedInferenceOn()) {
        if (plan === undefined) plan = fusedInference(model as tfl.LayersModel);
        if (plan) return toLogits(plan(v)[0]);
      }
      if (isLayers) return toLogits((model as tfl.LayersModel).apply(v, { training }) as tf.Tensor);
      return toLogits((model as GraphModel).execute(v) as tf.Tensor);
    });

  return {
    model,
    card,
    inputShape,
    labels,
    logits: (x) => run(x, false),
    trainLogits: (x) => {
      if (!isLayers) throw new UserError('graph models cannot be trained; convert the model to a tfjs layers model');
      return run(x, true);
    },
    taps(x, names) {
      checkInput(x, inputShape);
      const known = new Set(this.layerNames());
      for (const n of names) {
        if (!known.has(n)) throw new UserError(`layer '${n}' not found in the model; choose one of: ${[...known].join(', ')}`);
      }
      return tf.tidy(() => {
        const v = preprocessTensor(card, x);
        if (isLayers) {
          const lm = model as tfl.LayersModel;
          const key = names.join('\u0000');
          let tm = tapModels.get(key);
          if (!tm) {
            const outs = names.map((n) => lm.getLayer(n).output as tfl.SymbolicTensor);
            tm = {
              model: tfl.model({ inputs: lm.inputs, outputs: [...outs, ...(lm.outputs as tfl.SymbolicTensor[])] }),
            };
            tapModels.set(key, tm);
          }
          let ys: tf.Tensor[];
          if (fusedInferenceOn()) {
            if (tm.plan === undefined) tm.plan = fusedInference(tm.model);
            ys = tm.plan ? tm.plan(v) : (tm.model.apply(v, { training: false }) as tf.Tensor[]);
          } else ys = tm.model.apply(v, { training: false }) as tf.Tensor[];
          const activations: Record<string, tf.Tensor> = {};
          names.forEach((n, i) => (activations[n] = ys[i]));
          return { activations, logits: toLogits(ys[names.length]) };
        }
        const gm = model as GraphModel;
        const outName = gm.outputs[0].name;
        const ys = gm.execute(v, [...names, outName]) as tf.Tensor[];
        const activations: Record<string, tf.Tensor> = {};
        names.forEach((n, i) => (activations[n] = ys[i]));
        return { activations, logits: toLogits(ys[names.length]) };
      });
    },
    layerNames() {
      if (isLayers) return (model as tfl.LayersModel).layers.map((l) => l.name);
      return Object.keys((model as unknown as { executor: { graph: { nodes: Record<string, unknown> } } }).executor.graph.nodes);
    },
    trainableVariables() {
      if (!isLayers) return [];
      return (model as tfl.LayersModel).trainableWeights.map((w) => w.read() as tf.Variable);
    },
  };
}

/** Index of a class given by name (case-insensitive) or by number; a {@link UserError} otherwise. */
export function classIndex(c: Classifier, nameOrIndex: string | number): number {
  if (typeof nameOrIndex === 'number' || /^\d+$/.test(nameOrIndex)) {
    const i = Number(nameOrIndex);
    if (i < 0 || i >= c.labels.length) throw new UserError(`class index ${i} is outside 0..${c.labels.length - 1}`);
    return i;
  }
  const want = nameOrIndex.toLowerCase();
  const i = c.labels.findIndex((l) => l.toLowerCase() === want);
  if (i < 0) {
    const near = c.labels.filter((l) => l.toLowerCase().includes(want)).slice(0, 5);
    throw new UserError(`class '${nameOrIndex}' is not in the model's labels${near.length ? `; did you mean ${near.map((n) => `'${n}'`).join(', ')}?` : ''}`);
  }
  return i;
}
