/**
 * Where dataset files are looked for. Directories are searched in order: `--data-dir`, then
 * `$ADVLENS_DATA` (a list, split on the platform's path delimiter), then `~/.cache/advlens` (where
 * `advlens data fetch` puts files), then system paths (`/usr/share/datasets`, where Debian's
 * `dataset-fashion-mnist` installs `fashion-mnist/*.gz`). Within a directory, a dataset's usual
 * sub-folders are tried (`mnist/`, `fashion-mnist/`, `cifar-10-batches-bin/`, `cifar10-jpeg/`, ...);
 * in a directory the user named, the files may also sit directly. IDX files may be gzipped or not.
 * File-system access is injected as a {@link Probe}, so this file runs anywhere.
 */
import { UserError } from '../errors.ts';
import { CATALOG, type Split } from './catalog.ts';

/** Why a directory is searched. */
export type Origin = '--data-dir' | '$ADVLENS_DATA' | 'cache' | 'system';

/** A directory searched for data. */
export interface SearchDir {
  path: string;
  origin: Origin;
}

/** What is at a path: a file, a directory, or nothing. */
export type Probe = (path: string) => 'file' | 'dir' | undefined;

/** A split found on disk. */
export type Found =
  | { format: 'idx'; dir: string; images: string; labels: string }
  | { format: 'cifar'; dir: string; files: string[]; meta?: string }
  | { format: 'tree'; dir: string };

/** System directories searched last. */
export const SYSTEM_DATA_DIRS = ['/usr/share/datasets', '/usr/local/share/datasets'];

/** Joins path parts with `/` (accepted by Node on every platform), skipping empty parts. */
export function joinPath(...parts: string[]): string {
  const kept = parts.filter((p) => p !== '');
  return kept.map((p, i) => (i < kept.length - 1 ? p.replace(/[/\\]+$/, '') : p)).join('/');
}

/**
 * The directories to search, in order: `dataDir`, each entry of `env.ADVLENS_DATA`,
 * `home/.cache/advlens`, then {@link SYSTEM_DATA_DIRS}. Duplicates are dropped.
 */
export function searchDirs(opts: {
  dataDir?: string;
  env?: Record<string, string | undefined>;
  home?: string;
  delimiter?: string;
}): SearchDir[] {
  const out: SearchDir[] = [];
  const add = (path: string, origin: Origin) => {
    if (path !== '' && !out.some((d) => d.path === path)) out.push({ path, origin });
  };
  if (opts.dataDir) add(opts.dataDir, '--data-dir');
  for (const p of (opts.env?.ADVLENS_DATA ?? '').split(opts.delimiter ?? ':')) add(p, '$ADVLENS_DATA');
  if (opts.home) add(joinPath(opts.home, '.cache', 'advlens'), 'cache');
  for (const p of SYSTEM_DATA_DIRS) add(p, 'system');
  return out;
}

/** The default download directory under `home`: `~/.cache/advlens`. */
export function defaultDataDir(home: string): string {
  return joinPath(home, '.cache', 'advlens');
}

/** Accepted names of an IDX file: gzipped or not, with `-idx3-` or `.idx3-`. */
function idxNames(base: string): string[] {
  const dotted = base.replace(/-(idx\d)-/, '.$1-');
  return [`${base}.gz`, base, `${dotted}.gz`, dotted];
}

/** The sub-folders of `dir` to try for dataset `name` (the direct layout only in user-named dirs). */
function candidates(name: string, dir: SearchDir): string[] {
  const user = dir.origin === '--data-dir' || dir.origin === '$ADVLENS_DATA';
  const base =
    dir.path
      .replace(/[/\\]+$/, '')
      .split(/[/\\]/)
      .pop() ?? '';
  return CATALOG[name].folders
    .filter((f) => f !== '' || user)
    .filter((f) => !(f === '' && name === 'mnist' && /fashion/i.test(base)))
    .map((f) => (f === '' ? dir.path : joinPath(dir.path, f)));
}

/**
 * Finds `name:split` in the first directory of `dirs` that holds it, or returns undefined. CIFAR-10
 * is found as the binary release (`test_batch.bin`, `data_batch_N.bin`) or as a class-per-folder
 * tree (`<folder>/<split>/<class>/`), binary first within a folder.
 */
export function locateSplit(name: string, split: Split, dirs: SearchDir[], probe: Probe): Found | undefined {
  const entry = CATALOG[name];
  const files = entry?.splits[split];
  if (!entry || !files || entry.format === 'npm') return undefined;
  for (const d of dirs) {
    if (probe(d.path) !== 'dir') continue;
    for (const dir of candidates(name, d)) {
      if (probe(dir) !== 'dir') continue;
      if (entry.format === 'idx') {
        const first = (base: string) =>
          idxNames(base)
            .map((n) => joinPath(dir, n))
            .find((p) => probe(p) === 'file');
        const images = first(files.files[0]);
        const labels = files.labels ? first(files.labels) : undefined;
        if (images && labels) return { format: 'idx', dir, images, labels };
        continue;
      }
      const batches = files.files.map((f) => joinPath(dir, f));
      if (batches.every((p) => probe(p) === 'file')) {
        const meta = joinPath(dir, 'batches.meta.txt');
        return { format: 'cifar', dir, files: batches, meta: probe(meta) === 'file' ? meta : undefined };
      }
      const tree = joinPath(dir, split);
      if (entry.classNames.some((c) => probe(joinPath(tree, c)) === 'dir'))
        return { format: 'tree', dir: tree };
    }
  }
  return undefined;
}

/** Where a split would be expected, relative to a data directory, for messages. */
export function expectedLayout(name: string, split: Split): string {
  const entry = CATALOG[name];
  const files = entry.splits[split];
  if (!files) return '';
  if (entry.format === 'idx') return `${name}/${files.files[0]}[.gz] and ${name}/${files.labels}[.gz]`;
  if (entry.format === 'cifar')
    return `cifar-10-batches-bin/${files.files.join(',')} or cifar10-jpeg/${split}/<class>/*.jpg`;
  return '';
}

/**
 * The {@link UserError} for a split that was not found: where advlens looked, what it looked for,
 * and how to get the data.
 */
export function notFoundError(name: string, split: Split, dirs: SearchDir[]): UserError {
  const where = dirs.map((d) => `${d.path} (${d.origin})`).join(', ');
  const fetch = CATALOG[name]?.download ? `download it with \`advlens data fetch ${name}\`, or ` : '';
  return new UserError(
    `${name}:${split} not found; looked for ${expectedLayout(name, split)} in ${where}; ${fetch}point --data-dir (or $ADVLENS_DATA) at a folder that holds it`,
  );
}
