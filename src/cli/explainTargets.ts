/** `advlens explain`'s method list and target flags, parsed and checked. */
import { EXPLAINERS, explainer, type ExplainTarget } from '../explain/index.ts';
import { classIndex, type Classifier } from '../models/classifier.ts';
import { UserError } from '../errors.ts';

/** `gradient,cam` or repeated flags -> checked explainer names. */
export function parseMethodList(v: string, prev: string[] = []): string[] {
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0)
    throw new UserError(`--method needs a name; use one of ${Object.keys(EXPLAINERS).join(', ')}`);
  for (const n of names) explainer(n);
  return [...new Set([...prev, ...names])];
}

/** The CLI target for one model: predicted, label, or a class by name or index. */
export function targetFor(model: Classifier, t: string, labelled: boolean): ExplainTarget {
  if (t === 'predicted') return 'predicted';
  if (t === 'label') {
    if (!labelled)
      throw new UserError(
        '--target label needs --data (image files have no labels); use predicted or a class',
      );
    return 'label';
  }
  return classIndex(model, t);
}
