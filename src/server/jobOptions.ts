/**
 * The scalar options of each explorer job kind, described as data the way the attacks declare
 * theirs (src/options.ts): type, default, range or choices, and a one-line doc. The job manager
 * checks a request against its kind's specs with `resolveOptions`, so a bad value gets one line
 * naming the job kind, the option and what it must be; the values of other shapes (images, classes,
 * attack options, strength lists, exploits' neurons) keep their own checks in jobs.ts.
 */
import {
  resolveOptions,
  type OptionSpecs,
  type ChoiceSpec,
  type NumberSpec,
  type OptionSpec,
  type ValueSpec,
} from '../options.ts';
import { SWEEP_DEFAULTS } from '../pathways/sweep.ts';
import { GROUP_DEFAULTS } from '../pathways/groups.ts';
import { HIGHLIGHT_DEFAULTS, HIGHLIGHT_MEASURES, type HighlightMeasure } from '../pathways/highlight.ts';
import type { JobKind } from './jobs.ts';

/** The option specs of one job kind, by option name. */
export type JobOptionSpecs = Record<string, OptionSpec>;

const seed: NumberSpec = {
  type: 'number',
  integer: true,
  min: 0,
  max: 2 ** 31 - 1,
  default: 0,
  doc: 'random seed (random starts, noise)',
};
const fraction = (doc: string, d: number): NumberSpec => ({
  type: 'number',
  min: 0,
  exclusiveMin: true,
  max: 1,
  default: d,
  doc,
});
const groupK: NumberSpec = {
  type: 'number',
  integer: true,
  min: 1,
  max: 100,
  default: GROUP_DEFAULTS.k,
  doc: 'top-k channels per image that form a group',
};
const layer: ValueSpec<string> = {
  type: 'value',
  required: true,
  expects: 'the name of a pathways layer (as in the pathways result)',
  check: (v) => typeof v === 'string' && v !== '' && v.length <= 200,
  doc: 'the pathways layer of the neuron',
};
const channel: NumberSpec = {
  type: 'number',
  integer: true,
  min: 0,
  max: 1e6,
  required: true,
  doc: 'the channel (neuron) of the layer',
};

/**
 * The specs of every job kind's scalar options; `maxSteps` bounds every iteration count (the
 * server's `JobLimits.steps`).
 */
export function jobOptionSpecs(maxSteps: number): Record<JobKind, JobOptionSpecs> {
  const steps = (d: number): NumberSpec => ({
    type: 'number',
    integer: true,
    min: 1,
    max: maxSteps,
    default: d,
    doc: 'iterations',
  });
  return {
    pathways: {
      steps: steps(SWEEP_DEFAULTS.steps),
      stepFraction: fraction('step size as a fraction of the strength', SWEEP_DEFAULTS.stepFraction),
      keep: {
        type: 'choice',
        choices: ['successful', 'all'],
        default: 'successful',
        doc: "images kept per strength: 'successful' attacks (Bluff) or 'all'",
      } satisfies ChoiceSpec,
      k: groupK,
      seed,
      measure: {
        type: 'choice',
        choices: HIGHLIGHT_MEASURES,
        default: HIGHLIGHT_DEFAULTS.measure,
        doc: 'what highlights a neuron',
      } satisfies ChoiceSpec<HighlightMeasure>,
      neurons: fraction('fraction of the neurons highlighted', HIGHLIGHT_DEFAULTS.neurons),
      edges: fraction('fraction of the connections highlighted', HIGHLIGHT_DEFAULTS.edges),
    },
    attack: {
      strength: {
        type: 'number',
        min: 0,
        max: 1e6,
        required: true,
        doc: "the attack's budget (eps)",
      },
      seed,
    },
    curve: { seed },
    saliency: {},
    featurevis: { layer, channel, steps: steps(128), seed },
    patches: {
      layer,
      channel,
      count: { type: 'number', integer: true, min: 1, max: 16, default: 10, doc: 'patches shown' },
      limit: {
        type: 'number',
        integer: true,
        min: 1,
        max: 2000,
        default: 500,
        doc: 'dataset images searched',
      },
    },
    exploits: { k: groupK },
  };
}

/**
 * Job `kind`'s scalar options from a request `body` (other fields are left alone): defaults
 * applied, each checked against its spec; an `OptionError` (a `UserError`: the server answers 400)
 * naming the kind, the option and its range otherwise.
 */
export function jobOptions(
  kind: JobKind,
  specs: Record<JobKind, JobOptionSpecs>,
  body: Record<string, unknown>,
): Record<string, unknown> {
  // The specs are checked at run time alone (there is no typed options interface per job kind).
  const kindSpecs = specs[kind] as unknown as OptionSpecs<Record<string, unknown>>;
  return resolveOptions({ kind: 'job', name: kind }, kindSpecs, body);
}
