/**
 * The image transforms of the shape-versus-texture tests (AT-CNN), by name: a registry the CLI's
 * `--transform` list, the help text and a web form read. A transform spec is written `name[:param]`:
 * `saturate:8`, `shuffle:4`, `stylize` (arbitrary style transfer, a random painting per image) or
 * `stylize:fast:wave` (one of the fixed-style networks).
 *
 *   const specs = parseTransformList('saturate:8,shuffle:4,stylize');
 *   const y = applyTransform(specs[0], x, { seed: 0, indices }); // caller owns y
 */
import type * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../errors.ts';
import { checkSaturation, saturate, SATURATION_LEVELS } from './saturate.ts';
import { patchShuffle, SHUFFLE_SIZES } from './patchShuffle.ts';
import type { Stylizer } from './stylize.ts';

export { saturate, saturateValue, SATURATION_LEVELS } from './saturate.ts';
export {
  patchShuffle,
  patchPermutation,
  shuffleSourceMap,
  imageSeed,
  SHUFFLE_SIZES,
} from './patchShuffle.ts';
export { fastStyleNet, convLayer, convTransposeLayer, instanceNorm } from './fastStyle.ts';
export {
  arbitraryStylizer,
  fastStylizer,
  styleVectors,
  type Stylizer,
  type ArbitraryStyleModels,
} from './stylize.ts';

/** One transform with its parameter. */
export type TransformSpec =
  | { kind: 'saturate'; level: number }
  | { kind: 'shuffle'; grid: number }
  | { kind: 'stylize'; method: string };

/** A transform's description: name, parameter, one line of doc, whether it draws random numbers. */
export interface TransformRecord {
  name: TransformSpec['kind'];
  summary: string;
  param: string;
  seeded: boolean;
  /** It needs networks loaded by the host (a {@link Stylizer}). */
  needsStylizer: boolean;
}

/** Every transform, described. */
export const TRANSFORMS: Record<TransformSpec['kind'], TransformRecord> = {
  saturate: {
    name: 'saturate',
    summary: `saturation level p: sign(2v-1)|2v-1|^(2/p)/2 + 1/2 per value (AT-CNN: ${SATURATION_LEVELS.join(', ')}; 2 = identity)`,
    param: 'p',
    seeded: false,
    needsStylizer: false,
  },
  shuffle: {
    name: 'shuffle',
    summary: `patch shuffle: a k x k grid of patches in a random order per image (AT-CNN: ${SHUFFLE_SIZES.join(', ')})`,
    param: 'k',
    seeded: true,
    needsStylizer: false,
  },
  stylize: {
    name: 'stylize',
    summary:
      'stylisation: arbitrary style transfer with a random painting per image (stylize), or a fixed-style network (stylize:fast:wave)',
    param: 'arbitrary | fast:<style>',
    seeded: true,
    needsStylizer: true,
  },
};

const HELP = 'saturate:<p>, shuffle:<k>, stylize or stylize:fast:<style>';

/** Parses one spec (`saturate:8`, `shuffle:4`, `stylize`, `stylize:fast:wave`). */
export function parseTransform(text: string): TransformSpec {
  const t = text.trim();
  const at = t.indexOf(':');
  const name = at < 0 ? t : t.slice(0, at);
  const param = at < 0 ? undefined : t.slice(at + 1);
  const num = (what: string) => {
    if (param === undefined || param === '' || !/^[0-9.eE+-]+$/.test(param))
      throw new UserError(
        `transform '${t}' needs a number: ${name}:<${what}> (for example ${name}:${name === 'saturate' ? 8 : 4})`,
      );
    return Number(param);
  };
  if (name === 'saturate') {
    const level = num('p');
    checkSaturation(level);
    return { kind: 'saturate', level };
  }
  if (name === 'shuffle') {
    const grid = num('k');
    if (!Number.isInteger(grid) || grid < 1)
      throw new UserError(
        `transform '${t}': the grid k must be a whole number >= 1 (AT-CNN used ${SHUFFLE_SIZES.join(', ')})`,
      );
    return { kind: 'shuffle', grid };
  }
  if (name === 'stylize') {
    const method = param ?? 'arbitrary';
    if (method !== 'arbitrary' && !/^fast:[A-Za-z0-9_-]+$/.test(method))
      throw new UserError(`transform '${t}': stylize takes arbitrary or fast:<style> (stylize:fast:wave)`);
    return { kind: 'stylize', method };
  }
  throw new UserError(`unknown transform '${t}'; use ${HELP}`);
}

/** Parses a comma-separated list; duplicates are refused. */
export function parseTransformList(text: string): TransformSpec[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.some((p) => p === ''))
    throw new UserError(`--transform '${text}' has an empty entry; use ${HELP}, comma-separated`);
  const specs = parts.map(parseTransform);
  const labels = specs.map(transformLabel);
  const dup = labels.find((l, i) => labels.indexOf(l) !== i);
  if (dup) throw new UserError(`--transform lists ${dup} twice`);
  return specs;
}

/** The spec written back: `saturate:8`, `shuffle:4`, `stylize:arbitrary`. */
export function transformLabel(s: TransformSpec): string {
  return s.kind === 'saturate'
    ? `saturate:${s.level}`
    : s.kind === 'shuffle'
      ? `shuffle:${s.grid}`
      : `stylize:${s.method}`;
}

/** What {@link applyTransform} needs besides the images. */
export interface TransformContext {
  /** The run's seed (patch orders, paintings). */
  seed: number;
  /** Each image's index in its dataset (seeds its draws, so batching does not matter). */
  indices: ArrayLike<number>;
  /** The loaded stylisation, for `stylize` specs (its method must be the spec's). */
  stylizer?: Stylizer;
}

/** The images x [N, H, W, C] in [0, 1] transformed by `spec`; a new tensor the caller owns. */
export function applyTransform(spec: TransformSpec, x: tf.Tensor4D, ctx: TransformContext): tf.Tensor4D {
  if (spec.kind === 'saturate') return saturate(x, spec.level);
  if (spec.kind === 'shuffle') return patchShuffle(x, spec.grid, { seed: ctx.seed, indices: ctx.indices });
  if (!ctx.stylizer) throw new Error(`transform ${transformLabel(spec)} needs a loaded stylizer`);
  if (x.shape[3] !== 3)
    throw new UserError(
      `stylize needs colour (RGB) images; these have ${x.shape[3]} channel(s) (MNIST is grey)`,
    );
  return ctx.stylizer(x, ctx.indices);
}
