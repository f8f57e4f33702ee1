/**
 * Loading a classifier over HTTP: `model.json` and its weights, the `advlens.json` card beside it
 * (how to feed the model, its labels) and `labels.json` when the model has no card. The card is
 * resolved as in Node (`models/resolveCard.ts`): the card, a preset, or one inferred from the model.
 *
 *   const model = await loadClassifierFromUrl('/models/mnist-small-cnn/');
 */
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import { UserError } from '../errors.ts';
import { makeClassifier, type Classifier } from '../models/classifier.ts';
import { CARD_FILE, inferCard, isGraphModel, resolveCard, type ModelSource } from '../models/resolveCard.ts';

/** Options of {@link loadClassifierFromUrl}. */
export interface UrlLoadOptions {
  /** Use this preset's card instead of the model's advlens.json or recognition. */
  preset?: string;
  /** The fetch to use (default the global one): for credentials, caching or tests. */
  fetch?: typeof fetch;
}

/** The model.json URL and the folder URL (ending in '/') of `url`, which names either. */
export function modelUrls(url: string, base?: string): { modelJson: string; folder: string } {
  let u: URL;
  try {
    u = new URL(url, base ?? globalThis.location?.href);
  } catch {
    throw new UserError(`'${url}' is not a URL; give the model's folder URL or its model.json URL`);
  }
  if (u.pathname.endsWith('.json')) return { modelJson: u.href, folder: new URL('.', u).href };
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return { modelJson: new URL('model.json', u).href, folder: u.href };
}

/** Fetches and parses a JSON file; undefined when `optional` and the server has no such file. */
async function fetchJson(f: typeof fetch, url: string, what: string, optional: boolean): Promise<unknown> {
  let res: Response;
  try {
    res = await f(url);
  } catch (e) {
    throw new UserError(`could not fetch the ${what} ${url}: ${(e as Error).message}`);
  }
  // Servers of single-page apps (Vite's among them) answer a missing file with their HTML page.
  const html = (res.headers.get('content-type') ?? '').includes('text/html');
  if ((res.status === 404 || html) && optional) return undefined;
  if (!res.ok) throw new UserError(`could not fetch the ${what} ${url}: HTTP ${res.status}`);
  if (html)
    throw new UserError(
      `could not fetch the ${what} ${url}: the server answered with an HTML page; check the URL`,
    );
  try {
    return await res.json();
  } catch {
    throw new UserError(`the ${what} ${url} is not JSON`);
  }
}

/**
 * Loads the TensorFlow.js model at `url` (its folder, or its model.json) as a {@link Classifier}, with
 * the card that says how to feed it. Relative URLs are taken against the page (or worker) location.
 * A {@link UserError} when the model cannot be fetched or read.
 */
export async function loadClassifierFromUrl(url: string, opts: UrlLoadOptions = {}): Promise<Classifier> {
  const f = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const { modelJson, folder } = modelUrls(url);
  const cardUrl = new URL(CARD_FILE, folder).href;
  const [json, cardJson, labels] = await Promise.all([
    fetchJson(f, modelJson, 'model file', false),
    fetchJson(f, cardUrl, 'model card', true),
    fetchJson(f, new URL('labels.json', folder).href, 'labels file', true),
  ]);
  const src: ModelSource = {
    where: folder,
    name: decodeURIComponent(new URL(folder).pathname.split('/').filter(Boolean).pop() ?? 'model'),
    modelJson: json as ModelSource['modelJson'],
    files: [
      'model.json',
      ...(cardJson !== undefined ? [CARD_FILE] : []),
      ...(labels !== undefined ? ['labels.json'] : []),
    ],
    card: cardJson !== undefined ? { json: cardJson, where: cardUrl } : undefined,
    labels: () => labels,
  };
  let card = resolveCard(src, opts.preset);
  let model: tfl.LayersModel | tfc.GraphModel;
  try {
    const load = { fetchFunc: f };
    model = isGraphModel(src, card)
      ? await tfc.loadGraphModel(modelJson, load)
      : await tfl.loadLayersModel(modelJson, load);
  } catch (e) {
    throw new UserError(`could not load the model at ${modelJson}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!card) card = inferCard(model, src);
  return makeClassifier(model, card);
}
