/**
 * Class-per-folder image trees (`ROOT/<class>/<image>`, as torchvision's ImageFolder): class names
 * are the sorted sub-folder names, files are taken in sorted order, and examples are interleaved
 * round-robin over the classes (first file of every class, then the second of every class, ...), so
 * any prefix, and so any `limit`, holds every class. Listing and decoding are injected (the Node
 * adapter passes `fs` and sharp), so this file runs anywhere.
 */
import { UserError } from '../errors.ts';
import { makeDataset, type Dataset } from './dataset.ts';

/** A directory entry. */
export interface TreeEntry {
  name: string;
  isDir: boolean;
}

/** Decoded pixels: uint8 [H, W, C]. */
export interface RawImage {
  data: Uint8Array;
  shape: [number, number, number];
}

/** How images are fitted to a size: stretch (`fill`) or resize the short side and centre-crop (`cover`). */
export type Fit = 'fill' | 'cover';

/** Options for decoding one image: the output size and channels, when fixed. */
export interface DecodeOptions {
  size?: [number, number];
  channels?: 1 | 3;
  fit?: Fit;
}

/** File access for {@link loadTree}: list a directory, join paths, decode an image. */
export interface TreeReader {
  list(dir: string): TreeEntry[] | Promise<TreeEntry[]>;
  join(dir: string, name: string): string;
  /** Decodes `file`; throws a UserError naming the file when it is not an image. */
  decode(file: string, opts: DecodeOptions): Promise<RawImage>;
  /** The folder's identity with links resolved (a real path), to detect link loops; optional. */
  real?(dir: string): string;
}

/** Options for {@link loadTree}. */
export interface TreeOptions extends DecodeOptions {
  /** Dataset name (the spec). */
  name: string;
  /** Load only the first `limit` examples of the interleaved order (only those are decoded). */
  limit?: number;
  /**
   * A fixed class list (e.g. CIFAR-10's): every sub-folder must be one of these names and gets its
   * index as label. Without it, the class names are the sorted sub-folder names.
   */
  classNames?: string[];
  /** Images decoded at once (default 16). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
  /** Receives notes about the tree (files skipped because they are not images). */
  onNote?: (message: string) => void;
}

/** File extensions read as images in a tree (what the decoder reads); other files are skipped. */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif'];
const isImageName = (name: string) => IMAGE_EXTENSIONS.includes(name.split('.').pop()!.toLowerCase());

const JUNK = new Set(['thumbs.db', 'desktop.ini']);
const visible = (e: TreeEntry) => !e.name.startsWith('.') && !JUNK.has(e.name.toLowerCase());
const byName = (a: TreeEntry, b: TreeEntry) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Lists a class-per-folder tree: the sorted class folders and, for each, its image files in sorted
 * order (sub-folders of a class folder are walked too). Files directly under `root` are ignored;
 * files without an image extension ({@link IMAGE_EXTENSIONS}) are skipped and listed in `skipped`.
 * Throws a {@link UserError} when `root` has no class folders or no files in them, or when a
 * symbolic link leads back into a folder being walked (a loop).
 */
export async function scanTree(
  root: string,
  reader: Pick<TreeReader, 'list' | 'join' | 'real'>,
): Promise<{ classes: string[]; files: string[][]; skipped: string[] }> {
  const dirs = (await reader.list(root)).filter((e) => e.isDir && visible(e)).sort(byName);
  if (dirs.length === 0) {
    throw new UserError(
      `${root} has no class sub-folders; a folder dataset is ROOT/<class>/<image files> (JPEG, PNG or WebP)`,
    );
  }
  const skipped: string[] = [];
  // Real paths of the folders being walked, from the root down: a folder met again is a link loop.
  const stack: string[] = reader.real ? [reader.real(root)] : [];
  const walk = async (dir: string): Promise<string[]> => {
    if (reader.real) {
      const id = reader.real(dir);
      if (stack.includes(id))
        throw new UserError(
          `${dir} is a symbolic link back to ${id}, a folder that contains it (a loop); remove the link`,
        );
      stack.push(id);
    }
    const out: string[] = [];
    for (const e of (await reader.list(dir)).filter(visible).sort(byName)) {
      const p = reader.join(dir, e.name);
      if (e.isDir) out.push(...(await walk(p)));
      else if (isImageName(e.name)) out.push(p);
      else skipped.push(p);
    }
    if (reader.real) stack.pop();
    return out;
  };
  const files: string[][] = [];
  for (const d of dirs) files.push(await walk(reader.join(root, d.name)));
  if (files.every((f) => f.length === 0)) {
    throw new UserError(
      `${root} has class folders (${dirs.map((d) => d.name).join(', ')}) but no image files in them (${IMAGE_EXTENSIONS.join(', ')})`,
    );
  }
  return { classes: dirs.map((d) => d.name), files, skipped };
}

/**
 * Interleaves groups round-robin: group 0's first item, group 1's first, ..., then every group's
 * second item, skipping groups that ran out; stops after `limit` items. Returns [group, item] pairs.
 */
export function roundRobin<T>(groups: T[][], limit = Infinity): [number, T][] {
  const out: [number, T][] = [];
  const longest = Math.max(0, ...groups.map((g) => g.length));
  for (let i = 0; i < longest && out.length < limit; i++) {
    for (let g = 0; g < groups.length && out.length < limit; g++) {
      if (i < groups[g].length) out.push([g, groups[g][i]]);
    }
  }
  return out;
}

/** Maps `fn` over `items` with at most `concurrency` calls in flight, keeping the order of results. */
export async function mapPool<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return out;
}

/**
 * Loads a class-per-folder tree into a {@link Dataset} of uint8 pixels. Without `size`, every image
 * is resized to the first image's size; without `channels`, the first image decides (1 for
 * grayscale, else 3). Only the first `limit` examples of the interleaved order are decoded.
 */
export async function loadTree(root: string, reader: TreeReader, opts: TreeOptions): Promise<Dataset> {
  const { classes, files, skipped } = await scanTree(root, reader);
  if (skipped.length > 0)
    opts.onNote?.(
      `skipped ${skipped.length} file(s) in ${root} that are not images (${skipped
        .slice(0, 3)
        .map((f) => f.slice(root.length + 1))
        .join(
          ', ',
        )}${skipped.length > 3 ? ', ...' : ''}); only ${IMAGE_EXTENSIONS.join(', ')} files are read`,
    );
  let labelOf = classes.map((_, i) => i);
  let classNames = classes;
  if (opts.classNames) {
    const fixed = opts.classNames;
    const unknown = classes.filter((c) => !fixed.includes(c));
    if (unknown.length > 0) {
      throw new UserError(
        `${root} has folders ${unknown.join(', ')} that are not classes of ${opts.name} (${fixed.join(', ')})`,
      );
    }
    labelOf = classes.map((c) => fixed.indexOf(c));
    classNames = fixed;
  }
  const order = roundRobin(files, opts.limit);
  if (order.length === 0) throw new UserError(`${root}: --limit ${opts.limit} leaves no images`);
  const decode: DecodeOptions = { size: opts.size, channels: opts.channels, fit: opts.fit };
  const first = await reader.decode(order[0][1], decode);
  const [h, w, c] = first.shape;
  const fixedOpts: DecodeOptions = { size: [h, w], channels: c as 1 | 3, fit: opts.fit };
  const per = h * w * c;
  const pixels = new Uint8Array(order.length * per);
  const labels = new Int32Array(order.length);
  pixels.set(first.data, 0);
  let done = 1;
  opts.onProgress?.(done, order.length);
  await mapPool(order.slice(1), opts.concurrency ?? 16, async ([, file], i) => {
    const img = await reader.decode(file, fixedOpts);
    if (img.data.length !== per)
      throw new Error(`decoder returned ${img.shape.join('x')} for ${file}, asked for ${h}x${w}x${c}`);
    pixels.set(img.data, (i + 1) * per);
    opts.onProgress?.(++done, order.length);
  });
  order.forEach(([g], i) => (labels[i] = labelOf[g]));
  return makeDataset({ name: opts.name, source: root, classNames, shape: [h, w, c], pixels, labels });
}
