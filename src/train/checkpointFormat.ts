/**
 * A checkpoint as bytes, for any store (folders in Node, IndexedDB in a browser): the model in the
 * standard tfjs format (`model.json` + `weights.bin`), the optimiser's state (`optimizer.json`, a
 * weights manifest, + `optimizer.bin`) and the run's state (`state.json`). Decoding treats the
 * bytes as untrusted: every length, shape, type and number is checked against the model being
 * resumed, so a damaged checkpoint gives one {@link UserError} and never a partial restore.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Classifier } from '../models/classifier.ts';
import { UserError } from '../errors.ts';
import type { TrainState } from './state.ts';
import type { EpochResult } from './progress.ts';
import { optimizerState, restoreOptimizer, slotsPerVariable } from './optimizer.ts';

/** The five files of a checkpoint, by name. */
export interface CheckpointFiles {
  'state.json': Uint8Array;
  'model.json': Uint8Array;
  'weights.bin': Uint8Array;
  'optimizer.json': Uint8Array;
  'optimizer.bin': Uint8Array;
}

/** The file names of a checkpoint, in the order they are written (state last). */
export const CHECKPOINT_FILES = [
  'model.json',
  'weights.bin',
  'optimizer.json',
  'optimizer.bin',
  'state.json',
] as const satisfies readonly (keyof CheckpointFiles)[];

/** What a checkpoint must fit: the model's weight shapes, its trainable ones and the optimiser's slots per variable. */
export interface CheckpointLayout {
  /** Shapes of all the model's weights, in `model.weights` order. */
  weights: number[][];
  /** Shapes of its trainable variables, in order. */
  trainable: number[][];
  /** Slots per trainable variable (Adam 2, SGD with momentum 1). */
  slots: number;
}

/** A decoded checkpoint: plain arrays, no tensors yet. */
export interface DecodedCheckpoint {
  state: TrainState;
  /** Values of the model's weights, in `model.weights` order. */
  weights: Float32Array[];
  /** The optimiser's state, as {@link optimizerState} named it. */
  optimizer: { name: string; shape: number[]; values: Float32Array | Int32Array }[];
}

/** The layout of `c`'s model with `optimizer`. */
export function checkpointLayout(c: Classifier, optimizer: tf.Optimizer): CheckpointLayout {
  return {
    weights: layersModel(c).weights.map((w) => [...w.shape] as number[]),
    trainable: c.trainableVariables().map((v) => [...v.shape]),
    slots: slotsPerVariable(optimizer),
  };
}

function layersModel(c: Classifier): tfl.LayersModel {
  if (!(c.model instanceof tfl.LayersModel)) throw new Error('only layers models are checkpointed');
  return c.model;
}

const text = new TextEncoder();

/** Encodes the model's weights, the optimiser's state and the run's state as checkpoint files. */
export async function encodeCheckpoint(
  c: Classifier,
  optimizer: tf.Optimizer,
  state: TrainState,
): Promise<CheckpointFiles> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await layersModel(c).save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const a = artifacts!;
  const model: tf.io.ModelJSON = {
    modelTopology: a.modelTopology as object,
    format: a.format,
    generatedBy: a.generatedBy,
    convertedBy: a.convertedBy,
    weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs ?? [] }],
  };
  const named = await optimizerState(optimizer);
  try {
    const { data, specs } = await tf.io.encodeWeights(named);
    return {
      'model.json': text.encode(JSON.stringify(model)),
      'weights.bin': new Uint8Array(
        tf.io.CompositeArrayBuffer.join(a.weightData as ArrayBuffer | ArrayBuffer[] | undefined),
      ),
      'optimizer.json': text.encode(JSON.stringify(specs)),
      'optimizer.bin': new Uint8Array(tf.io.CompositeArrayBuffer.join(data)),
      'state.json': text.encode(JSON.stringify(state, null, 1)),
    };
  } finally {
    tf.dispose(named.map((w) => w.tensor));
  }
}

/** Restores a decoded checkpoint into `c` and a fresh `optimizer`. */
export async function applyCheckpoint(
  c: Classifier,
  optimizer: tf.Optimizer,
  d: DecodedCheckpoint,
): Promise<void> {
  const model = layersModel(c);
  const weights = d.weights.map((v, i) => tf.tensor(v, model.weights[i].shape as number[], 'float32'));
  try {
    model.setWeights(weights);
  } finally {
    tf.dispose(weights);
  }
  const named = d.optimizer.map((w) => ({
    name: w.name,
    tensor: tf.tensor(w.values, w.shape, w.values instanceof Int32Array ? 'int32' : 'float32'),
  }));
  try {
    await restoreOptimizer(optimizer, named);
  } finally {
    tf.dispose(named.map((w) => w.tensor));
  }
}

/** How a damaged checkpoint is reported: the problem, and the two ways on. */
export function damaged(where: string, problem: string): UserError {
  // One line: the problem may quote the damaged bytes (JSON.parse does), newlines and all.
  const p = problem.replace(/[\x00-\x1f\x7f\s]+/g, ' ');
  return new UserError(
    `the checkpoint ${where} is damaged (${p.length > 160 ? p.slice(0, 157) + '...' : p}); remove that folder to start the run over, or drop --resume`,
  );
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function parseJson(bytes: Uint8Array, file: string, where: string): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch (e) {
    throw damaged(where, `${file} is not valid JSON: ${(e as Error).message}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Parses and checks `state.json` (a {@link TrainState}). */
export function parseTrainState(bytes: Uint8Array, where: string): TrainState {
  const s = parseJson(bytes, 'state.json', where);
  const bad = (what: string) => damaged(where, `state.json: ${what}`);
  if (!isObject(s)) throw bad('not an object');
  if (!isCount(s.epochsDone)) throw bad('epochsDone is not a whole number');
  if (!isFiniteNumber(s.wallTimeSec) || s.wallTimeSec < 0) throw bad('wallTimeSec is not a time');
  if (typeof s.recipeKey !== 'string') throw bad('recipeKey is not a string');
  if (!Array.isArray(s.history) || s.history.length !== s.epochsDone)
    throw bad(`history does not list the ${s.epochsDone} epochs done`);
  const history: EpochResult[] = s.history.map((h: unknown, i: number) => {
    if (!isObject(h) || h.epoch !== i + 1) throw bad(`history[${i}] is not epoch ${i + 1}`);
    for (const k of ['loss', 'accuracy', 'lr', 'seconds'] as const)
      if (!isFiniteNumber(h[k])) throw bad(`history[${i}].${k} is not a number`);
    return {
      epoch: i + 1,
      loss: h.loss as number,
      accuracy: h.accuracy as number,
      lr: h.lr as number,
      seconds: h.seconds as number,
    };
  });
  const state: TrainState = {
    epochsDone: s.epochsDone,
    history,
    wallTimeSec: s.wallTimeSec,
    recipeKey: s.recipeKey,
  };
  if (s.partial === undefined) return state;
  const p = s.partial;
  if (!isObject(p)) throw bad('partial is not an object');
  for (const k of ['batchesDone', 'correct', 'seen'] as const)
    if (!isCount(p[k])) throw bad(`partial.${k} is not a whole number`);
  for (const k of ['lossSum', 'seconds'] as const)
    if (!isFiniteNumber(p[k])) throw bad(`partial.${k} is not a number`);
  if (!Array.isArray(p.rng) || p.rng.length !== 4 || !p.rng.every((w) => isCount(w) && w < 2 ** 32))
    throw bad('partial.rng is not a generator state of 4 words');
  return {
    ...state,
    partial: {
      batchesDone: p.batchesDone as number,
      lossSum: p.lossSum as number,
      correct: p.correct as number,
      seen: p.seen as number,
      seconds: p.seconds as number,
      rng: p.rng as number[],
    },
  };
}

interface Spec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
}

/** Checks a weights manifest's entries: names, whole-number shapes, float32 (or int32 where allowed), no quantization. */
function parseSpecs(list: unknown, file: string, where: string, int32 = false): Spec[] {
  const bad = (what: string) => damaged(where, `${file}: ${what}`);
  if (!Array.isArray(list)) throw bad('no list of weights');
  return list.map((w: unknown, i: number) => {
    if (!isObject(w) || typeof w.name !== 'string') throw bad(`entry ${i} has no name`);
    if (!Array.isArray(w.shape) || w.shape.length > 8 || !w.shape.every(isCount))
      throw bad(`entry ${i} has no valid shape`);
    if (w.quantization !== undefined) throw bad(`entry ${i} is quantized`);
    if (w.dtype !== 'float32' && !(int32 && w.dtype === 'int32'))
      throw bad(`entry ${i} is of type ${String(w.dtype)}`);
    return { name: w.name, shape: w.shape as number[], dtype: w.dtype };
  });
}

const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Cuts `bytes` into one array per spec; the specs' sizes must add up to its length exactly. */
function slice(bytes: Uint8Array, specs: Spec[], file: string, where: string): (Float32Array | Int32Array)[] {
  const need = specs.reduce((s, w) => s + 4 * sizeOf(w.shape), 0);
  if (bytes.byteLength !== need)
    throw damaged(where, `${file} holds ${bytes.byteLength} bytes where ${need} are expected`);
  let off = 0;
  return specs.map((w) => {
    const n = sizeOf(w.shape);
    const copy = bytes.slice(off, off + 4 * n).buffer; // aligned
    off += 4 * n;
    const values = w.dtype === 'int32' ? new Int32Array(copy) : new Float32Array(copy);
    if (values instanceof Float32Array && !values.every(Number.isFinite))
      throw damaged(where, `${file}: ${w.name} holds a value that is not a finite number`);
    return values;
  });
}

const ADAM_POWER = /^advlens\/accBeta[12]$/;

/**
 * Decodes checkpoint files for a model and optimiser of `layout`: each file is parsed, its shapes
 * checked against the layout and its byte lengths against its shapes. Throws a {@link UserError}
 * naming the damage for anything else; a checkpoint of another architecture is refused as such.
 */
export function decodeCheckpoint(
  files: CheckpointFiles,
  layout: CheckpointLayout,
  where: string,
): DecodedCheckpoint {
  const state = parseTrainState(files['state.json'], where);

  const model = parseJson(files['model.json'], 'model.json', where);
  if (!isObject(model) || !Array.isArray(model.weightsManifest) || model.weightsManifest.length !== 1)
    throw damaged(where, 'model.json has no weights manifest of one group');
  const group: unknown = model.weightsManifest[0];
  if (
    !isObject(group) ||
    !Array.isArray(group.paths) ||
    group.paths.length !== 1 ||
    group.paths[0] !== 'weights.bin'
  )
    throw damaged(where, 'model.json does not list weights.bin as its one weight file');
  const specs = parseSpecs(group.weights, 'model.json', where);
  if (specs.length !== layout.weights.length || specs.some((s, i) => !sameShape(s.shape, layout.weights[i])))
    throw new UserError(
      `the checkpoint ${where} is of another architecture (its weights do not fit this model); resume with the same --arch and data, or drop --resume`,
    );
  const weights = slice(files['weights.bin'], specs, 'weights.bin', where) as Float32Array[];

  const opt = parseSpecs(
    parseJson(files['optimizer.json'], 'optimizer.json', where),
    'optimizer.json',
    where,
    true,
  );
  const T = layout.trainable.length;
  if (opt.length === 0 || opt[0].name !== 'iter' || opt[0].dtype !== 'int32' || opt[0].shape.length !== 0)
    throw damaged(where, 'optimizer.json does not start with the step count');
  const powers = opt.filter((w) => ADAM_POWER.test(w.name));
  const slots = opt.slice(1).filter((w) => !ADAM_POWER.test(w.name));
  if (powers.some((w) => w.shape.length !== 0 || w.dtype !== 'float32') || powers.length > 2)
    throw damaged(where, 'optimizer.json has malformed Adam powers');
  if (opt.slice(1).some((w) => w.dtype !== 'float32'))
    throw damaged(where, 'optimizer.json has an int32 slot');
  if (slots.length !== layout.slots * T || slots.some((w, j) => !sameShape(w.shape, layout.trainable[j % T])))
    throw new UserError(
      `the checkpoint ${where} was made with another optimizer or model (its optimizer slots do not fit); resume with the same --optimizer and --arch, or drop --resume`,
    );
  const values = slice(files['optimizer.bin'], opt, 'optimizer.bin', where);
  if (values[0][0] < 0) throw damaged(where, 'optimizer.bin has a negative step count');
  return {
    state,
    weights,
    optimizer: opt.map((w, i) => ({ name: w.name, shape: w.shape, values: values[i] })),
  };
}
