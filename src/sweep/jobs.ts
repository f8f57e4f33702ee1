/**
 * The jobs of a sweep on a queue: one per (model, attack, eps, shard), each an {@link AttackItem}
 * (attack, options with eps and the shard's own seed, examples) with what a worker on another machine
 * needs to find the same model and data, and an id that is a content hash of everything that decides
 * its outcome, so re-running a plan finds its finished jobs, and a job delivered twice merges the
 * same. Outcomes travel as JSON ({@link encodeOut}, {@link decodeOut}) and come back bit for bit.
 * No Node imports (browser-ready: hashing uses Web Crypto).
 */
import type { AttackBatchOut, AttackItem } from '../metrics/attackBatch.ts';
import { stableJson } from './plan.ts';

/** One job of a sweep: an attack item on one shard of one model's data. */
export interface SweepJob {
  /** Content hash of the rest (see {@link jobId}). */
  id: string;
  model: {
    /**
     * The model folder as the plan gives it: relative to the plan file's folder (a worker resolves
     * it against its own `--base`, so machines may keep the models under other roots), or absolute.
     * The model is identified by `weights`; the path only says where to look.
     */
    path: string;
    preset?: string;
    /** SHA-256 of the model's topology and weights; a worker checks its copy against it. */
    weights: string;
  };
  data: {
    spec: string;
    /** The plan's data folder as it gives it (relative to the plan file's folder, or absolute). */
    dataDir?: string;
    limit?: number;
    /** Input size [H, W] and channels the model takes (the data are resized to them). */
    size: [number, number];
    channels: number;
    /** SHA-256 of the shard's pixels and labels; a worker checks its copy against it. */
    shard: string;
  };
  item: AttackItem;
}

/** Hex SHA-256 of `bytes` (Web Crypto: Node 20+ and browsers). */
export async function sha256Hex(...parts: (ArrayBufferView | string)[]): Promise<string> {
  const views = parts.map((p) =>
    typeof p === 'string'
      ? new TextEncoder().encode(p)
      : new Uint8Array(p.buffer, p.byteOffset, p.byteLength),
  );
  const all = new Uint8Array(views.reduce((s, v) => s + v.length, 0));
  let off = 0;
  for (const v of views) (all.set(v, off), (off += v.length));
  const digest = await globalThis.crypto.subtle.digest('SHA-256', all);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The hash of a shard's pixels (float32, as the attack sees them) and labels. */
export const shardHash = (x: Float32Array, y: Int32Array): Promise<string> => sha256Hex(x, '\u0000', y);

/**
 * The id of a job: SHA-256 of the model's weights hash and preset, the data (spec, limit, input
 * size, the shard's hash) and the item (attack, options with eps and seed, examples). Paths are left
 * out, so the same work on another machine, or under another folder, has the same id.
 */
export function jobId(job: Omit<SweepJob, 'id'>): Promise<string> {
  const { dataDir: _dir, ...data } = job.data;
  return sha256Hex(
    stableJson({
      format: 'advlens-sweep-job/1',
      model: { weights: job.model.weights, preset: job.model.preset ?? null },
      data: { ...data, limit: data.limit ?? null },
      item: job.item,
    }),
  );
}

/** An {@link AttackBatchOut} as plain JSON: typed arrays as lists, NaN as null. */
export interface EncodedOut {
  predictions: number[];
  success: number[];
  linf: number[];
  l2: number[];
  l1: number[];
  options: Record<string, unknown>;
  metrics: Record<string, (number | null)[]>;
  kept: { image: number[]; delta: number[] }[];
  seconds: number;
}

/** `o` as JSON-safe lists (float32 values print exactly as doubles, so they read back unchanged). */
export function encodeOut(o: AttackBatchOut): EncodedOut {
  return {
    predictions: Array.from(o.predictions),
    success: Array.from(o.success),
    linf: Array.from(o.linf),
    l2: Array.from(o.l2),
    l1: Array.from(o.l1),
    options: o.options,
    metrics: Object.fromEntries(
      Object.entries(o.metrics).map(([k, v]) => [k, v.map((x) => (Number.isNaN(x) ? null : x))]),
    ),
    kept: o.kept.map((k) => ({ image: Array.from(k.image), delta: Array.from(k.delta) })),
    seconds: o.seconds,
  };
}

/** The {@link AttackBatchOut} that {@link encodeOut} wrote, bit for bit. */
export function decodeOut(e: EncodedOut): AttackBatchOut {
  return {
    predictions: Int32Array.from(e.predictions),
    success: Uint8Array.from(e.success),
    linf: Float32Array.from(e.linf),
    l2: Float32Array.from(e.l2),
    l1: Float32Array.from(e.l1),
    options: e.options,
    metrics: Object.fromEntries(
      Object.entries(e.metrics).map(([k, v]) => [k, v.map((x) => (x === null ? NaN : x))]),
    ),
    kept: e.kept.map((k) => ({ image: Float32Array.from(k.image), delta: Float32Array.from(k.delta) })),
    seconds: e.seconds,
  };
}

/** A short label of a job for logs: `mnist-small-cnn pgd-linf eps 0.1 [20, 30) 1f3a9c2e`. */
export const jobLabel = (j: SweepJob): string =>
  `${j.model.path.split(/[\\/]/).pop()} ${j.item.attack} eps ${Number(j.item.options.eps.toPrecision(4))} [${j.item.start}, ${j.item.start + j.item.count}) ${j.id.slice(0, 8)}`;
