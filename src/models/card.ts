import { UserError } from '../errors.ts';

/**
 * The model card `advlens.json` saved beside every model: what the model is, how to feed it, how it
 * was trained, what it scored and with which software. Every result the project reports cites it.
 */
export interface Preprocess {
  /** Spatial input size [H, W] and channels. */
  height: number;
  width: number;
  channels: 1 | 3;
  /** How images of another size are fitted: stretch ('fill') or resize the short side and centre-crop ('cover'). */
  resize: 'fill' | 'cover';
  /** Pixels in [0, 1] are mapped linearly to [scale[0], scale[1]] inside the model wrapper. */
  scale: [number, number];
  /** Optional per-channel mean and std applied after scaling: (v - mean) / std. */
  mean?: number[];
  std?: number[];
}

/** How a model was trained: the recipe (data, architecture, objective, optimiser, schedule, seed), the exact command, epochs, wall time and history. */
export interface TrainingRecord {
  /** Everything needed to reproduce: data, architecture, objective, optimiser, schedule, seed. */
  recipe: Record<string, unknown>;
  /** The command line that produced it. */
  command?: string;
  epochsDone: number;
  wallTimeSec: number;
  history: { epoch: number; loss: number; accuracy: number; lr: number; seconds: number }[];
}

/** One measured metric of a model with its provenance: the data spec and source, the number of examples, the value and when it was measured. */
export interface MetricRecord {
  data: string;
  source: string;
  examples: number;
  accuracy: number;
  measuredAt: string;
  command?: string;
  [k: string]: unknown;
}

/** The card `advlens.json` beside a model: preprocessing, labels, output kind, training record, metrics and versions (README, Models). */
export interface ModelCard {
  format: 'advlens-card/1';
  name: string;
  description?: string;
  architecture: string;
  /** 'layers' (tfjs LayersModel) or 'graph' (tfjs GraphModel). */
  modelType: 'layers' | 'graph';
  preprocess: Preprocess;
  labels: string[];
  /** The model's raw output: logits (default) or probabilities (softmax already applied). */
  output: 'logits' | 'probabilities';
  /** Named layers useful for taps: the last conv layer (Grad-CAM) and the CAM head, when known. */
  layers?: { lastConv?: string; camFeatures?: string; camDense?: string };
  training?: TrainingRecord;
  metrics?: Record<string, MetricRecord>;
  /** Zoo members: how the training differs from the papers' (src/zoo/paperSetting.ts). */
  zoo?: {
    member: string;
    /** The row of the seed's Table 1 this member stands for, or null (a baseline the paper lacks). */
    seedRow: string | null;
    paper: string;
    differences: string[];
  };
  versions: Record<string, string>;
  created: string;
  license?: string;
}

/** Identity preprocessing for [0,1] input at the given size. */
export function plainPreprocess(height: number, width: number, channels: 1 | 3): Preprocess {
  return { height, width, channels, resize: 'fill', scale: [0, 1] };
}

/**
 * Checks a parsed `advlens.json` (untrusted: it may come with a downloaded model) and returns it as a
 * {@link ModelCard}: the fields advlens reads must be present and of the right kind (input size,
 * channels, scaling, labels, output). Throws a one-line {@link UserError} naming `file` and the field.
 */
export function validateCard(json: unknown, file: string): ModelCard {
  const bad = (what: string): never => {
    throw new UserError(`model card ${file}: ${what}; fix the card or remove it (advlens then assumes [0,1] input and logits)`);
  };
  if (!json || typeof json !== 'object' || Array.isArray(json)) bad('not a JSON object');
  const c = json as Record<string, unknown>;
  if (c.format !== 'advlens-card/1') bad(`format is ${short(c.format)}, not 'advlens-card/1' (not an advlens card)`);
  if (c.modelType !== undefined && c.modelType !== 'layers' && c.modelType !== 'graph')
    bad(`modelType is ${short(c.modelType)}; use 'layers' or 'graph'`);
  if (c.output !== undefined && c.output !== 'logits' && c.output !== 'probabilities')
    bad(`output is ${short(c.output)}; use 'logits' or 'probabilities'`);
  const p = c.preprocess as Record<string, unknown> | undefined;
  if (!p || typeof p !== 'object') bad('no preprocess (input height, width, channels)');
  const side = (k: string) => {
    const v = p![k];
    if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 65536)
      bad(`preprocess.${k} is ${short(v)}; it must be a whole number of pixels from 1 to 65536`);
  };
  side('height');
  side('width');
  if (p!.channels !== 1 && p!.channels !== 3) bad(`preprocess.channels is ${short(p!.channels)}; use 1 or 3`);
  if (p!.resize !== undefined && p!.resize !== 'fill' && p!.resize !== 'cover')
    bad(`preprocess.resize is ${short(p!.resize)}; use 'fill' or 'cover'`);
  const s = p!.scale;
  if (!Array.isArray(s) || s.length !== 2 || !s.every((v) => typeof v === 'number' && Number.isFinite(v)))
    bad(`preprocess.scale is ${short(s)}; give two finite numbers [lo, hi]`);
  for (const k of ['mean', 'std'] as const) {
    const v = p![k];
    if (v === undefined) continue;
    if (
      !Array.isArray(v) ||
      (v.length !== p!.channels && v.length !== 1) ||
      !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (k === 'mean' || x !== 0))
    )
      bad(`preprocess.${k} is ${short(v)}; give ${p!.channels} finite number(s)${k === 'std' ? ', none zero' : ''}`);
  }
  if (!Array.isArray(c.labels) || c.labels.length === 0 || !c.labels.every((l) => typeof l === 'string'))
    bad(`labels is ${short(c.labels)}; give the class names as an array of strings`);
  if (c.layers !== undefined && (typeof c.layers !== 'object' || c.layers === null)) bad('layers is not an object');
  return {
    ...(c as unknown as ModelCard),
    name: typeof c.name === 'string' ? c.name : path(file),
    architecture: typeof c.architecture === 'string' ? c.architecture : 'unknown',
    modelType: (c.modelType as ModelCard['modelType']) ?? 'layers',
    output: (c.output as ModelCard['output']) ?? 'logits',
    preprocess: { ...(p as unknown as Preprocess), resize: (p!.resize as Preprocess['resize']) ?? 'fill' },
    versions: c.versions && typeof c.versions === 'object' ? (c.versions as Record<string, string>) : {},
    created: typeof c.created === 'string' ? c.created : new Date(0).toISOString(),
  };
}

/**
 * Class names from a parsed labels.json for a model with `classes` outputs: an array of names, or of
 * objects `{name, index?}` (the ml5/ImageNet form). Untrusted: it must name every class exactly once
 * (no index outside 0..classes-1, duplicated, negative or missing); otherwise a one-line
 * {@link UserError} naming `file`.
 */
export function parseLabels(json: unknown, classes: number, file = 'labels.json'): string[] {
  const bad = (what: string): never => {
    throw new UserError(`${file}: ${what}; fix it or remove it (advlens then names the classes 'class 0', 'class 1', ...)`);
  };
  if (!Array.isArray(json)) bad('not an array of class names');
  const arr = json as unknown[];
  if (arr.length !== classes)
    bad(`holds ${arr.length} labels but the model has ${classes} outputs`);
  const out: (string | undefined)[] = new Array(classes).fill(undefined);
  arr.forEach((e, i) => {
    let name: unknown = e;
    let index: unknown = i;
    if (e && typeof e === 'object' && !Array.isArray(e) && 'name' in e) {
      name = (e as { name: unknown }).name;
      if ('index' in e) index = (e as { index: unknown }).index;
    }
    if (typeof name !== 'string' && typeof name !== 'number') bad(`entry ${i} is ${short(e)}, not a class name or {name, index}`);
    if (!Number.isInteger(index) || (index as number) < 0 || (index as number) >= classes)
      bad(`entry ${i} has index ${short(index)}, outside 0..${classes - 1}`);
    if (out[index as number] !== undefined) bad(`index ${index} is given twice (entries before ${i} and ${i})`);
    out[index as number] = String(name);
  });
  return out as string[];
}

/** A value shown in a message: JSON, cut to 40 characters. */
function short(v: unknown): string {
  let s: string;
  try {
    s = v === undefined ? 'missing' : JSON.stringify(v);
  } catch {
    s = String(v);
  }
  return s.length > 40 ? s.slice(0, 37) + '...' : s;
}

/** The last component of a path, without Node's `path` (this file runs in the browser too). */
function path(file: string): string {
  return file.replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? file;
}
