/**
 * `advlens atlas` in Node: the neuron atlas of a model (src/pathways/atlas.ts) in a folder, cached by
 * the model's content hash (model.json, weight files, the card's preprocessing and labels:
 * {@link modelHash}). The folder holds `atlas.json` (format `advlens-atlas/1`, {@link AtlasIndex})
 * and per neuron `<layer>/<channel>/feature-vis.png` and `patch-<k>.png`. Each piece of work is
 * written as soon as it is done (PNGs first, then the index, atomically), so an interrupted atlas
 * resumes where it stopped; a second run with the same model and settings computes nothing and
 * does not even load the model; a model whose files changed (another hash) starts the atlas over.
 * Feature visualisations and patches are kept apart: changing the feature visualisation settings
 * recomputes only those, changing the patches' data only the patches.
 *
 * Without `out`, the atlas lives in `$ADVLENS_CACHE/atlas/<hash>` (default `~/.cache/advlens`), where
 * `advlens pathways` finds it by the model's hash.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { getBatch } from '../data/dataset.ts';
import { UserError } from '../errors.ts';
import {
  ATLAS_FORMAT,
  atlasGraph,
  atlasPiece,
  atlasPlan,
  atlasSettings,
  type AtlasIndex,
  type AtlasNeuron,
  type AtlasOptions,
  type AtlasPiece,
} from '../pathways/atlas.ts';
import { provenance } from '../report/provenance.ts';
import { atlasReport } from '../report/atlas.ts';
import { lockFolder } from './folderLock.ts';
import { readJson, writeFileAtomic } from './fsio.ts';
import { encodePng } from './image.ts';
import { loadDatasetFor } from './loadData.ts';
import { loadClassifier, modelDir } from './models.ts';
import { modelHash } from './sweepJob.ts';

export type { AtlasIndex, AtlasNeuron };
import type { Progress } from './pathwaysRun.ts';

/** What an atlas run needs: the model's preset, the dataset for patches, where to write, the atlas options. */
export interface AtlasRunOptions extends AtlasOptions {
  preset?: string;
  /** Dataset spec whose images give the patches (none: no patches). */
  data?: string;
  dataDir?: string;
  /** Images taken from the dataset (default 1000). */
  limit?: number;
  /** The atlas folder (default {@link atlasCacheDir} of the model's hash). */
  out?: string;
  /** The command recorded in the provenance (the CLI passes its arguments). */
  command?: string;
}

/** What an atlas run did: the folder, its index, how many pieces and neurons it computed, and the time. */
export interface AtlasRunResult {
  out: string;
  index: AtlasIndex;
  computed: { pieces: number; featureVis: number; patches: number };
  /** Why earlier content was dropped ('model changed', 'feature visualisation settings changed', ...). */
  notes: string[];
  seconds: number;
}

/** Where the atlas of a model with content hash `hash` is cached: `$ADVLENS_CACHE/atlas/<first 16 hex>` or `~/.cache/advlens/atlas/...`. */
export function atlasCacheDir(hash: string, env = process.env, home = os.homedir()): string {
  const root = env.ADVLENS_CACHE || path.join(home, '.cache', 'advlens');
  return path.join(root, 'atlas', hash.slice(0, 16));
}

export const ATLAS_INDEX = 'atlas.json';

/** The atlas index in `dir`, or undefined where there is none (or one of another format). */
export function readAtlas(dir: string): AtlasIndex | undefined {
  const file = path.join(dir, ATLAS_INDEX);
  if (!fs.existsSync(file)) return undefined;
  const j = readJson<AtlasIndex>(file, 'atlas index');
  return j && j.format === ATLAS_FORMAT && typeof j.modelHash === 'string' ? j : undefined;
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Computes (or completes, or reuses) the atlas of the model in `dir`. */
export async function atlasRun(
  dir: string,
  o: AtlasRunOptions = {},
  progress: (label: string) => Progress = () => ({ update() {}, stop() {} }),
): Promise<AtlasRunResult> {
  const t0 = performance.now();
  dir = modelDir(dir);
  const hash = await modelHash(dir);
  const out = path.resolve(o.out ?? atlasCacheDir(hash));
  fs.mkdirSync(out, { recursive: true });
  const lock = lockFolder(out);
  let model: Awaited<ReturnType<typeof loadClassifier>> | undefined;
  try {
    const notes: string[] = [];
    let index = readAtlas(out);
    if (index && index.modelHash !== hash) {
      notes.push(`the model's files changed since the atlas in ${out} was made: it is made again`);
      for (const layer of Object.keys(index.neurons))
        fs.rmSync(path.join(out, safe(layer)), { recursive: true, force: true });
      index = undefined;
    }
    const settings = atlasSettings(o);
    const wantPatches = settings.patches > 0 && o.data !== undefined;
    const patchSettings = wantPatches
      ? { count: settings.patches, data: o.data!, limit: o.limit ?? 1000 }
      : null;
    // load the model only when there is work: a finished atlas needs only the hash and the index
    const getModel = async () => (model ??= await loadClassifier(dir, { preset: o.preset }));
    if (!index) {
      const m = await getModel();
      index = {
        format: ATLAS_FORMAT,
        modelHash: hash,
        model: { dir, name: m.card.name, architecture: m.card.architecture },
        graph: atlasGraph(m),
        featureVis: null,
        patches: null,
        neurons: {},
        provenance: provenance(o.command ?? null, { model: dir }),
      };
    }
    const idx: AtlasIndex = index;
    const drop = (what: 'featureVis' | 'patches') => {
      for (const layer of Object.values(idx.neurons)) for (const n of Object.values(layer)) delete n[what];
    };
    if (settings.featureVis && idx.featureVis && !same(idx.featureVis, settings.featureVis)) {
      notes.push('the feature visualisation settings changed: feature visualisations are made again');
      drop('featureVis');
    }
    const { images: _n, ...madeWith } = idx.patches ?? { images: 0 };
    if (patchSettings && idx.patches && !same(madeWith, patchSettings)) {
      notes.push('the patch settings or data changed: patches are found again');
      drop('patches');
    }
    if (settings.featureVis) idx.featureVis = settings.featureVis;
    if (patchSettings && !same(madeWith, patchSettings)) idx.patches = { ...patchSettings, images: 0 };
    const plan = atlasPlan(
      idx.graph,
      { ...o, patches: wantPatches ? settings.patches : 0 },
      (layer, c, what) => idx.neurons[layer]?.[c]?.[what] !== undefined,
    );
    const computed = { pieces: 0, featureVis: 0, patches: 0 };
    if (plan.length > 0) {
      const m = await getModel();
      let x: tf.Tensor4D | undefined;
      if (plan.some((p) => p.kind === 'patches')) {
        const ds = await loadDatasetFor(m, o.data!, { dataDir: o.dataDir, limit: patchSettings!.limit });
        const b = getBatch(ds, [...Array(ds.size).keys()]);
        b.y.dispose();
        x = b.x;
        idx.patches = { ...patchSettings!, images: ds.size };
      }
      const total = plan.reduce((s, p) => s + p.channels.length, 0);
      const bar = progress(`atlas ${idx.model.name}`);
      let done = 0;
      try {
        for (const piece of plan) {
          bar.update(
            done,
            total,
            `${piece.layer.name} ${piece.kind === 'patches' ? 'patches' : 'feature vis.'}`,
          );
          await savePiece(out, idx, piece, atlasPiece(m, piece, x, o));
          computed.pieces++;
          computed[piece.kind] += piece.channels.length;
          done += piece.channels.length;
          idx.provenance = provenance(o.command ?? null, { model: dir });
          writeFileAtomic(path.join(out, ATLAS_INDEX), JSON.stringify(idx));
        }
        bar.update(done, total, 'done');
      } finally {
        bar.stop();
        x?.dispose();
      }
    }
    if (plan.length > 0 || !fs.existsSync(path.join(out, 'index.html'))) {
      writeFileAtomic(path.join(out, ATLAS_INDEX), JSON.stringify(idx));
      writeFileAtomic(path.join(out, 'index.html'), atlasReport(idx));
    }
    return { out, index: idx, computed, notes, seconds: (performance.now() - t0) / 1000 };
  } finally {
    model?.model.dispose();
    lock.release();
  }
}

/** Writes a piece's PNGs and records them in the index (not yet saved). */
async function savePiece(
  out: string,
  idx: AtlasIndex,
  piece: AtlasPiece,
  r: ReturnType<typeof atlasPiece>,
): Promise<void> {
  const layer = (idx.neurons[piece.layer.name] ??= {});
  for (const [k, c] of piece.channels.entries()) {
    const rel = `${safe(piece.layer.name)}/${c}`;
    fs.mkdirSync(path.join(out, rel), { recursive: true });
    const n = (layer[c] ??= {});
    if (r.kind === 'featureVis') {
      const v = r.images[k];
      const file = `${rel}/feature-vis.png`;
      writeFileAtomic(path.join(out, file), await encodePng(v.data, v.shape));
      n.featureVis = { file, activation: v.activation, objective: v.objective };
    } else {
      n.patches = [];
      for (const [j, p] of r.patches[k].entries()) {
        const file = `${rel}/patch-${j}.png`;
        writeFileAtomic(path.join(out, file), await encodePng(p.data, p.shape));
        n.patches.push({ file, image: p.image, activation: p.activation, box: p.box });
      }
    }
  }
}

/**
 * The atlas of the model in `dir` for reuse by `advlens pathways`: the index in `atlasDir` (default
 * the cache folder of the model's hash) when it is of this model's current files; otherwise
 * undefined, with the reason in `note` when there was an atlas of other files.
 */
export async function findAtlas(
  dir: string,
  atlasDir?: string,
): Promise<{ dir: string; index: AtlasIndex } | { note: string } | undefined> {
  const hash = await modelHash(dir);
  const at = path.resolve(atlasDir ?? atlasCacheDir(hash));
  if (atlasDir !== undefined && !fs.existsSync(path.join(at, ATLAS_INDEX)))
    throw new UserError(`no atlas in ${at} (no ${ATLAS_INDEX}); give the folder an atlas was written to`);
  let index: AtlasIndex | undefined;
  try {
    index = readAtlas(at);
  } catch (e) {
    if (atlasDir !== undefined || !(e instanceof UserError)) throw e;
    return { note: `the cached atlas in ${at} is unreadable (${e.message}); not used` };
  }
  if (!index) return undefined;
  if (index.modelHash !== hash)
    return { note: `the atlas in ${at} is of other model files (the model changed since); not used` };
  return { dir: at, index };
}
