/**
 * The stylised copy of a test set that `advlens stylize` writes (`DIR/<class>/<index>.png`, the index
 * of the source image in the set), read back paired with the clean images it was made from, so a
 * table can give AT-CNN's second accuracy on it (of the images the model classifies right when
 * clean, the share it still classifies right stylised) and measure the same images as the clean
 * columns: the stylised copies of the first `limit` test images.
 *
 *   const p = await loadStylizedPairs('folder:stylized-cifar10', clean, model);
 *   p?.indices; // [0, 1, 2, ...]: p.data's image i is the stylised clean image indices[i]
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeDataset, type Dataset } from '../data/dataset.ts';
import { parseDataSpec } from '../data/spec.ts';
import { IMAGE_EXTENSIONS } from '../data/folder.ts';
import { UserError } from '../errors.ts';
import { loadImageDataset } from './image.ts';
import { readJson } from './fsio.ts';
import { STYLIZE_PROVENANCE } from './stylizeRun.ts';

const INDEXED = new RegExp(`^(\\d+)\\.(${IMAGE_EXTENSIONS.join('|')})$`, 'i');

/**
 * The stylised images of `spec` whose source index is below `clean.size`, in index order, at the
 * model's input size, labelled as `clean` is; null when `spec` is not a folder whose every image is
 * named by its index (then it can only be read unpaired, as `folder:DIR`). A {@link UserError} when a
 * stylised image's class is not its source image's (not a copy of this test set) or none is left.
 */
export async function loadStylizedPairs(
  spec: string,
  clean: Dataset,
  model: { inputShape: readonly number[] },
): Promise<{ data: Dataset; indices: number[] } | null> {
  const s = parseDataSpec(spec);
  if (s.kind !== 'folder') return null;
  const root = s.path;
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory())
    throw new UserError(
      `stylised data folder not found: ${root}; make it once with advlens stylize --out ${root}`,
    );
  const found: { index: number; file: string; cls: string }[] = [];
  for (const cls of fs.readdirSync(root).sort()) {
    const dir = path.join(root, cls);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const f of fs.readdirSync(dir)) {
      const m = INDEXED.exec(f);
      if (!m) {
        if (IMAGE_EXTENSIONS.some((e) => f.toLowerCase().endsWith(`.${e}`))) return null;
        continue;
      }
      found.push({ index: Number(m[1]), file: path.join(dir, f), cls });
    }
  }
  if (found.length === 0) return null;
  const kept = found.filter((x) => x.index < clean.size).sort((a, b) => a.index - b.index);
  if (kept.length === 0)
    throw new UserError(
      `${root} holds no stylised copy of the first ${clean.size} images of ${clean.name} (its indices start at ${Math.min(...found.map((x) => x.index))})`,
    );
  for (const x of kept) {
    const want = clean.classNames[clean.labels[x.index]];
    if (x.cls !== want)
      throw new UserError(
        `${x.file} is class ${x.cls} but image ${x.index} of ${clean.name} is ${want}: ${root} is not a stylised copy of that set`,
      );
  }
  const [h, w, c] = model.inputShape;
  const imgs = await loadImageDataset(
    kept.map((x) => x.file),
    { size: [h, w], channels: c as 1 | 3 },
  );
  const indices = kept.map((x) => x.index);
  return {
    data: makeDataset({
      name: spec,
      source: path.resolve(root),
      classNames: clean.classNames,
      shape: imgs.shape,
      pixels: imgs.pixels,
      labels: Int32Array.from(indices, (i) => clean.labels[i]),
    }),
    indices,
  };
}

/**
 * What made the stylised set of `spec`, as a table cell's settings carry it: the options of `advlens
 * stylize` (its `key`: source data, method, seed, strength, work size), the paintings, how many images
 * and whether the run completed, from the folder's advlens-stylize.json; null when `spec` is not a
 * folder or the folder has none (a set made elsewhere). A cell recorded on one set is then not read
 * back for another written to the same path (nor for the same set half done).
 */
export function stylizeProvenanceOf(spec: string): Record<string, unknown> | null {
  const s = parseDataSpec(spec);
  if (s.kind !== 'folder') return null;
  const file = path.join(s.path, STYLIZE_PROVENANCE);
  if (!fs.existsSync(file)) return null;
  const p = readJson<Record<string, unknown> | null>(file, 'stylize provenance');
  if (!p || typeof p !== 'object' || !p.key || typeof p.key !== 'object')
    throw new UserError(
      `${file} has no 'key' (the options that made the set); re-create it with advlens stylize`,
    );
  const stylizer = p.stylizer as Record<string, unknown> | undefined;
  return {
    ...(p.key as Record<string, unknown>),
    paintings: Array.isArray(stylizer?.paintings) ? stylizer.paintings : null,
    images: typeof p.images === 'number' ? p.images : null,
    status: typeof p.status === 'string' ? p.status : null,
  };
}
