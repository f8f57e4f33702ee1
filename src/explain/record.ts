/**
 * An explainer's record: its function, its options described as data ({@link OptionSpecs}) and its
 * facts (samples per image, needs a CAM head, signed maps, ...), which the CLI, the pool and the
 * reports read instead of testing method names. {@link defineExplainer} makes one.
 *
 *   const r = EXPLAINERS['smoothgrad'];
 *   r.facts.samplesPerImage?.({ samples: 50 }); // 50
 *   r.run(model, batch, { samples: 50 });
 */
import type { Classifier } from '../models/classifier.ts';
import type { Batch } from '../data/dataset.ts';
import type { ExplainOptions, ExplainResult, ExplainTarget } from './types.ts';
import { resolveOptions, type OptionSpecs, type Resolved, type ValueSpec } from '../options.ts';

/** What callers need to know about an explainer, beyond running it. */
export interface ExplainerFacts {
  /**
   * Gradient samples it sums per image (SmoothGrad's noise samples, IG's path points), which
   * `sampleRange` can split across workers; null for methods that are not such sums.
   */
  samplesPerImage: ((options: ExplainOptions) => number) | null;
  /** It needs the model's CAM head (a GAP + dense head named in the card). */
  needsCam: boolean;
  /** It needs a tfjs layers model (not a graph model). */
  needsLayersModel: boolean;
  /** Its maps take both signs with the default options (display them 'signed' to see it). */
  signed: boolean;
  /** Maps at the input's resolution [H, W, C], or the feature map's [h, w, 1] (upsample to show). */
  resolution: 'input' | 'features';
}

/** One explainer, described; `run` validates its options (defaults filled in) and runs it. */
export interface ExplainerRecord<O extends object = object> {
  /** The registry name (`integrated-gradients`). */
  name: string;
  /** One line: the method and its paper. */
  summary: string;
  options: OptionSpecs<O>;
  facts: ExplainerFacts;
  /** Runs the explainer (caller owns `maps`); options it does not declare are ignored. */
  run(model: Classifier, batch: Batch, options?: O): ExplainResult;
}

/** Makes an explainer record from `explain`, which receives its options checked with defaults filled in. */
export function defineExplainer<O extends object, S extends OptionSpecs<O>>(d: {
  name: string;
  summary: string;
  options: S;
  facts: ExplainerFacts;
  explain: (model: Classifier, batch: Batch, options: Resolved<O, S>) => ExplainResult;
}): ExplainerRecord<O> & { options: S } {
  const method = { kind: 'explainer', name: d.name } as const;
  return {
    name: d.name,
    summary: d.summary,
    options: d.options,
    facts: d.facts,
    run: (model, batch, options = {} as O) =>
      d.explain(model, batch, resolveOptions<O, S>(method, d.options, options)),
  };
}

const isClass = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Specs of the options every explainer takes. */
export const COMMON_EXPLAIN_SPECS = {
  target: {
    type: 'value',
    default: 'predicted',
    expects: "'predicted', 'label', a class index or one per image",
    check: (v) => v === 'predicted' || v === 'label' || isClass(v) || (Array.isArray(v) && v.every(isClass)),
    doc: 'class explained: predicted, label, a class index or one per image',
    metavar: 'class',
  } satisfies ValueSpec<ExplainTarget>,
  score: {
    type: 'choice',
    choices: ['logit', 'ce'],
    default: 'logit',
    doc: 'score differentiated: the target logit or its cross-entropy',
    metavar: 'kind',
  },
  batchSize: {
    type: 'number',
    integer: true,
    min: 1,
    defaultText: '32; 8 for inputs above 64x64',
    doc: 'images, noise samples or path points per pass',
    metavar: 'n',
  },
} as const;

/** The seed spec of the sampled methods. */
export const SEED_SPEC = {
  type: 'number',
  integer: true,
  min: 0,
  default: 0,
  doc: 'seed for smoothgrad noise and the uniform baseline',
  metavar: 'n',
} as const;

/** The sampleRange spec of the sampled methods (how a pool splits one image's samples). */
export const SAMPLE_RANGE_SPEC: ValueSpec<[number, number]> = {
  type: 'value',
  expects: '[a, b] with integers 0 <= a < b',
  check: (v) =>
    Array.isArray(v) && v.length === 2 && v.every((t) => Number.isInteger(t) && t >= 0) && v[0] < v[1],
  doc: 'compute only the samples a .. b - 1 (partial sums that add up to the full map)',
};
