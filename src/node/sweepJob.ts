/**
 * One sweep job on a pool thread of `advlens worker` (registered as the pool task `sweepJob`, see
 * src/node/pool.ts's `taskModules`): checks that this machine's model folder and data shard hash as
 * the job says, then attacks the shard. Everything heavy (reading and hashing the model, loading and
 * decoding the data, the attack) runs here, off the worker process's event loop, which must stay
 * free to renew the queue's job locks.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../errors.ts';
import type { Dataset } from '../data/dataset.ts';
import { attackBatch } from '../metrics/attackBatch.ts';
import { itemBatch } from '../metrics/robustness.ts';
import { stableJson } from '../sweep/plan.ts';
import { encodeOut, sha256Hex, shardHash, type EncodedOut, type SweepJob } from '../sweep/jobs.ts';
import { loadDataset } from './loadData.ts';
import { CARD_FILE, modelDir } from './models.ts';
import { readJson } from './fsio.ts';
import { imagesOf } from './poolWorkerTasks.ts';
import type { TaskHandler } from './poolWorker.ts';

const hashCache = new Map<string, { stamp: string; hash: Promise<string> }>();

/**
 * SHA-256 of what decides a model folder's outputs: model.json, its weight files, and the card's
 * preprocessing, output kind and labels (not its recorded metrics). Cached while the files' times
 * and sizes stay the same.
 */
export function modelHash(dir: string): Promise<string> {
  dir = modelDir(dir);
  const json = path.join(dir, 'model.json');
  if (!fs.existsSync(json)) throw new UserError(`no model.json in ${dir}; give a TensorFlow.js model folder`);
  const manifest = readJson<{ weightsManifest?: { paths: string[] }[] }>(json, 'model file');
  const files = [
    json,
    ...(manifest.weightsManifest ?? []).flatMap((g) => g.paths.map((p) => path.join(dir, p))),
  ];
  const card = path.join(dir, CARD_FILE);
  if (fs.existsSync(card)) files.push(card);
  const stamp = files
    .map((f) => {
      const st = fs.statSync(f, { throwIfNoEntry: false });
      if (!st) throw new UserError(`${f} is missing; the model folder ${dir} is incomplete`);
      return `${f}:${st.size}:${st.mtimeMs}`;
    })
    .join('|');
  const hit = hashCache.get(dir);
  if (hit?.stamp === stamp) return hit.hash;
  const hasCard = files[files.length - 1] === card;
  const parts: (Uint8Array | string)[] = (hasCard ? files.slice(0, -1) : files).map((f) =>
    fs.readFileSync(f),
  );
  if (hasCard) {
    const c = readJson<Record<string, unknown>>(card, 'model card');
    parts.push(
      stableJson({ preprocess: c.preprocess, output: c.output, labels: c.labels, modelType: c.modelType }),
    );
  }
  const hash = sha256Hex(...parts);
  hashCache.set(dir, { stamp, hash });
  return hash;
}

/** Datasets this thread loaded, by what decides their content. */
const datasets = new Map<string, Promise<Dataset>>();

/**
 * The job's data on this machine (`dataDir` first, else the plan's folder resolved against `base`),
 * loaded once per thread.
 */
function dataOf(d: SweepJob['data'], dataDir: string | undefined, base: string): Promise<Dataset> {
  const dir = dataDir ?? (d.dataDir === undefined ? undefined : path.resolve(base, d.dataDir));
  const key = stableJson({ ...d, shard: null, dataDir: dir ?? null });
  let p = datasets.get(key);
  if (!p) {
    p = loadDataset(d.spec, {
      dataDir: dir,
      limit: d.limit,
      size: d.size,
      channels: d.channels as 1 | 3,
    });
    datasets.set(key, p);
    p.catch(() => datasets.delete(key));
  }
  return p;
}

/** The pool tasks of a sweep worker. */
export const TASKS: Record<string, TaskHandler> = {
  sweepJob: async (
    p: { job: SweepJob; base: string; dataDir?: string },
    env,
  ): Promise<{ value: EncodedOut }> => {
    const { job } = p;
    const dir = path.resolve(p.base, job.model.path);
    if (!fs.existsSync(path.join(dir, 'model.json')))
      throw new UserError(
        `the sweep's model ${job.model.path} is not in ${dir} on this machine; start the worker with --base set to the folder the plan's paths are relative to (its copy on this machine)`,
      );
    const hash = await modelHash(dir);
    if (hash !== job.model.weights)
      throw new UserError(
        `the model in ${dir} on this machine differs from the sweep's (hash ${hash.slice(0, 12)}, the job's ${job.model.weights.slice(0, 12)}); give every worker the same model folders`,
      );
    const data = await dataOf(job.data, p.dataDir, p.base);
    const { start, count } = job.item;
    if (start + count > data.size)
      throw new UserError(`${job.data.spec} has ${data.size} examples here; the job needs ${start + count}`);
    const im = imagesOf(data, start, count);
    if ((await shardHash(im.x, im.y)) !== job.data.shard)
      throw new UserError(
        `examples ${start}..${start + count - 1} of ${job.data.spec} on this machine differ from the sweep's; give every worker the same data (or --data-dir)`,
      );
    const model = await env.classifier(dir, job.model.preset);
    const batch = itemBatch(data, job.item);
    try {
      return { value: encodeOut(attackBatch(model, batch, job.item)) };
    } finally {
      tf.dispose([batch.x, batch.y]);
    }
  },
};
