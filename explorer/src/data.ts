/**
 * The explorer's data: a pathways result (format advlens-pathways/2, or /1) as `advlens pathways` writes it
 * (pathways.json + neurons.json + edges.json) or as the server's pathways job returns it (the three
 * merged as `{ pathways, neurons, edges }`), checked and put back together into the library's
 * `PathwaysResult`, with where each neuron's images (feature visualisation, patches) are found.
 */
import type { PathwaysResult } from '../../src/pathways/pathways.ts';
import { readPathwaysJson } from '../../src/pathways/format.ts';

/** Where a neuron's pictures are: a URL per patch and of its feature visualisation, when present. */
export interface NeuronPictures {
  featureVis?: string;
  patches: string[];
}

/** A top dataset patch a live server computed: its picture (a PNG data URL), where it came from. */
export interface LivePatch {
  image: string;
  source: string;
  activation: number;
}

/**
 * A value being computed (a server job): `value` or `error` once it settled, so a panel drawn again
 * shows a settled one at once; `promise` settles with it.
 */
export interface Pending<T> {
  promise: Promise<T>;
  value?: T;
  error?: string;
}

/** A neuron's pictures computed on demand by the live server (feature visualisation, top patches). */
export interface LivePictures {
  featureVis: Pending<string>;
  patches: Pending<LivePatch[]>;
  /** Asks the server again (after an error: a busy server, say); the new one replaces the old. */
  again: { featureVis(): Pending<string>; patches(): Pending<LivePatch[]> };
}

/** A class's probability among an image's top five. */
export interface Top {
  index: number;
  label: string;
  p: number;
}

/** One attacked image of a live job: PNG data URLs, its stored id (for saliency), top five. */
export interface AttackedView {
  id?: string;
  adversarial: string;
  perturbation: string;
  amplification?: number;
  linf?: number;
  l2?: number;
  success?: boolean;
  top5: Top[];
}

/** Per strength, what the live server adds: each image attacked, its amplified perturbation and top 5. */
export interface StrengthImages {
  strength: number;
  images: AttackedView[];
}

/** A loaded result: the pathways, where it came from, and how to find a neuron's pictures. */
export interface Loaded {
  result: PathwaysResult;
  /** Where the data came from, for the title: a URL, a folder name or a job. */
  source: string;
  provenance?: Record<string, unknown>;
  /** The pictures of neuron `layer:channel` (undefined: none known). */
  pictures: (key: string) => NeuronPictures | undefined;
  /** Live mode: neuron `layer:channel`'s pictures, computed by the server when first asked for. */
  livePictures?: (key: string) => LivePictures;
  images?: StrengthImages[];
  /** The clean images' top five (live jobs). */
  clean?: { id: string; name?: string; top5: Top[] }[];
  /** The model's name (for a two-model comparison). */
  model?: string;
}

/** A problem with the data the page was given; its message is shown in the page. */
export class DataError extends Error {}

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The three artefacts merged into a PathwaysResult; a DataError names what is wrong. */
export function mergeArtefacts(pathways: unknown, neurons: unknown, edges: unknown): PathwaysResult {
  // Versions 1 and 2 of pathways.json (2 changed only the provenance): read as 2.
  let doc: Json;
  try {
    doc = readPathwaysJson(pathways) as unknown as Json;
  } catch {
    throw new DataError(
      `pathways.json is not an advlens pathways result (format ${JSON.stringify(isObj(pathways) ? pathways.format : typeof pathways)}, expected "advlens-pathways/2" or "/1"); open the folder that \`advlens pathways\` wrote`,
    );
  }
  if (!isObj(neurons) || !isObj(neurons.neurons))
    throw new DataError(
      'neurons.json has no "neurons" object; open the folder that `advlens pathways` wrote',
    );
  if (!isObj(edges) || !Array.isArray(edges.edges))
    throw new DataError('edges.json has no "edges" list; open the folder that `advlens pathways` wrote');
  const r = { ...doc, neurons: neurons.neurons, edges: edges.edges } as unknown as PathwaysResult;
  for (const k of ['layers', 'groups', 'attack', 'success'] as const)
    if (!(k in r))
      throw new DataError(`pathways.json has no "${k}"; was it written by \`advlens pathways\`?`);
  for (const l of r.layers)
    if (!r.neurons[l.name] || !r.groups[l.name])
      throw new DataError(`layer ${l.name} of pathways.json is missing from neurons.json or its groups`);
  return r;
}

/** A result from a server job's JSON (`{ pathways, neurons, edges, images? }`). */
export function fromJob(json: unknown, source: string, pictureBase?: string): Loaded {
  if (!isObj(json)) throw new DataError('the job returned no result');
  const r = mergeArtefacts(json.pathways, json.neurons, json.edges);
  const pictures = isObj(json.pictures) ? (json.pictures as Record<string, NeuronPictures>) : undefined;
  return {
    result: r,
    source,
    provenance: (json.pathways as Json).provenance as Json | undefined,
    pictures: (key) => pictures?.[key] ?? (pictureBase ? folderPictures(pictureBase, key) : undefined),
    images: Array.isArray(json.strengths) ? (json.strengths as StrengthImages[]) : undefined,
    clean: Array.isArray(json.clean) ? (json.clean as Loaded['clean']) : undefined,
    model: (((json.pathways as Json).provenance as Json | undefined)?.model as Json | undefined)?.name as
      string | undefined,
  };
}

/** The file names `advlens pathways` gives a neuron's pictures (neurons/<layer>-<c>/...). */
function folderPictures(base: string, key: string): NeuronPictures {
  const dir = `${base}neurons/${key.replace(':', '-')}/`;
  return {
    featureVis: `${dir}feature-vis.png`,
    patches: Array.from({ length: 10 }, (_, k) => `${dir}patch-${k}.png`),
  };
}

async function getJson(url: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch {
    throw new DataError(`could not fetch ${url}: is the address right and served over HTTP?`);
  }
  if (!res.ok) throw new DataError(`could not fetch ${url}: HTTP ${res.status}`);
  try {
    return await res.json();
  } catch {
    throw new DataError(`${url} is not JSON`);
  }
}

/** Opens a folder written by `advlens pathways` at a URL (`?static=<url>`). */
export async function loadFromUrl(url: string): Promise<Loaded> {
  const base = new URL(url.endsWith('/') ? url : `${url}/`, location.href).href;
  const [p, n, e] = await Promise.all(
    ['pathways.json', 'neurons.json', 'edges.json'].map((f) => getJson(base + f)),
  );
  const result = mergeArtefacts(p, n, e);
  return {
    result,
    source: url,
    provenance: (p as Json).provenance as Json | undefined,
    pictures: (key) => folderPictures(base, key),
    model: (((p as Json).provenance as Json | undefined)?.model as Json | undefined)?.name as
      string | undefined,
  };
}

/**
 * Opens the files of a folder picked in the browser (an `<input webkitdirectory>` or several files):
 * the three JSON artefacts, and the neurons' PNGs as object URLs.
 */
export async function loadFromFiles(files: File[]): Promise<Loaded> {
  const byName = new Map<string, File>();
  for (const f of files) byName.set((f.webkitRelativePath || f.name).split('/').slice(-3).join('/'), f);
  const find = (name: string) => files.find((f) => f.name === name);
  const read = async (name: string) => {
    const f = find(name);
    if (!f) throw new DataError(`the folder has no ${name}: pick the folder that \`advlens pathways\` wrote`);
    try {
      return JSON.parse(await f.text()) as unknown;
    } catch {
      throw new DataError(`${name} is not JSON`);
    }
  };
  const [p, n, e] = await Promise.all(['pathways.json', 'neurons.json', 'edges.json'].map(read));
  const result = mergeArtefacts(p, n, e);
  const urls = new Map<string, string>();
  const url = (rel: string) => {
    if (!urls.has(rel)) {
      const f = byName.get(rel);
      if (!f) return undefined;
      urls.set(rel, URL.createObjectURL(f));
    }
    return urls.get(rel);
  };
  const root = files[0]?.webkitRelativePath?.split('/')[0];
  return {
    result,
    source: root || 'files',
    provenance: (p as Json).provenance as Json | undefined,
    pictures: (key) => {
      const dir = `neurons/${key.replace(':', '-')}`;
      const patches = Array.from({ length: 10 }, (_, k) => url(`${dir}/patch-${k}.png`)).filter(
        (u): u is string => !!u,
      );
      return { featureVis: url(`${dir}/feature-vis.png`), patches };
    },
    model: (((p as Json).provenance as Json | undefined)?.model as Json | undefined)?.name as
      string | undefined,
  };
}
