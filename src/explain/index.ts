/**
 * The explainer registry: one record per method ({@link ExplainerRecord}: its function, options
 * described as data, facts). The CLI, the pool, the server and the web app find explainers here by
 * name, with no per-method cases; adding one is a new file that exports a record and one line below
 * (or {@link registerExplainer} from outside the library).
 *
 *   explainer('smoothgrad')(model, batch, { samples: 50 });
 *   explainerFacts('cam').needsCam; // true
 */
import { UserError } from '../errors.ts';
import type { ExplainOptions, Explainer } from './types.ts';
import type { ExplainerFacts, ExplainerRecord } from './record.ts';
import { gradientExplainer, gradientXInputExplainer } from './gradient.ts';
import { smoothgradExplainer } from './smoothgrad.ts';
import { integratedGradientsExplainer } from './integratedGradients.ts';
import { camExplainer, gradCamExplainer } from './cam.ts';

export type {
  CamOptions,
  CommonExplainOptions,
  Explainer,
  ExplainOptions,
  ExplainResult,
  ExplainTarget,
  GradCamOptions,
  GradientOptions,
  IntegratedGradientsOptions,
  SmoothGradOptions,
} from './types.ts';
export { defineExplainer, type ExplainerFacts, type ExplainerRecord } from './record.ts';

/** Explainer records by name, in the order help lists them. */
export const EXPLAINERS: Record<string, ExplainerRecord> = {};

/** Adds an explainer to the registry under `record.name` (made with `defineExplainer`), replacing one of that name. */
export function registerExplainer<O extends object>(record: ExplainerRecord<O>): void {
  EXPLAINERS[record.name] = record;
}

registerExplainer(gradientExplainer);
registerExplainer(gradientXInputExplainer);
registerExplainer(smoothgradExplainer);
registerExplainer(integratedGradientsExplainer);
registerExplainer(camExplainer);
registerExplainer(gradCamExplainer);

/** The record of explainer `name`; a {@link UserError} naming the valid ones otherwise. */
export function explainerRecord(name: string): ExplainerRecord {
  const r = Object.hasOwn(EXPLAINERS, name) ? EXPLAINERS[name] : undefined;
  if (!r)
    throw new UserError(`unknown explainer '${name}'; use one of ${Object.keys(EXPLAINERS).join(', ')}`);
  return r;
}

/**
 * Explainer `name` as a function of one options object shared by several methods: it reads the
 * options it declares (checked, defaults filled in) and ignores the others. A {@link UserError} for
 * unknown names.
 */
export function explainer(name: string): Explainer {
  const r = explainerRecord(name);
  return (model, batch, options) => r.run(model, batch, options);
}

/** What callers need to know about explainer `name`; a {@link UserError} for unknown names. */
export function explainerFacts(name: string): ExplainerFacts {
  return explainerRecord(name).facts;
}

/**
 * How many gradient samples per image `method` sums (SmoothGrad's noise samples, IG's path points),
 * which `sampleRange` can split; null for methods that are not such sums.
 */
export function sampleCount(method: string, o: ExplainOptions): number | null {
  return explainerFacts(method).samplesPerImage?.(o) ?? null;
}
