import { UserError } from '../errors.ts';
import type { ExplainOptions, Explainer } from './types.ts';
import { gradient, gradientXInput } from './gradient.ts';
import { DEFAULT_SAMPLES, smoothgrad } from './smoothgrad.ts';
import { igPoints, integratedGradients } from './integratedGradients.ts';
import { cam, gradCam } from './cam.ts';

export type { Explainer, ExplainOptions, ExplainResult, ExplainTarget } from './types.ts';

/** Explainers by name: the CLI, the server and the web app use this registry, with no per-method cases. */
export const EXPLAINERS: Record<string, Explainer> = {
  gradient,
  'gradient-x-input': gradientXInput,
  smoothgrad,
  'integrated-gradients': integratedGradients,
  cam,
  'grad-cam': gradCam,
};

/** Looks up an explainer by name; a {@link UserError} naming the valid ones otherwise. */
export function explainer(name: string): Explainer {
  const e = EXPLAINERS[name];
  if (!e)
    throw new UserError(`unknown explainer '${name}'; use one of ${Object.keys(EXPLAINERS).join(', ')}`);
  return e;
}

/**
 * How many gradient samples per image `method` sums (SmoothGrad's noise samples, IG's path points),
 * which `sampleRange` can split; null for methods that are not such sums.
 */
export function sampleCount(method: string, o: ExplainOptions): number | null {
  if (method === 'smoothgrad') return o.samples ?? DEFAULT_SAMPLES;
  if (method === 'integrated-gradients') return igPoints(o);
  return null;
}
