/**
 * The explorer server's jobs: a bounded queue (a total and a per-client limit, a 429 "busy" answer
 * past them), jobs run on the worker pool (src/node/pool.ts with the tasks of tasks.ts) so the event
 * loop keeps answering, progress to listeners (the SSE route), cancellation, and a cache by content
 * hash: the model's files, the images' PNGs and the job's options name the result, so asking again
 * answers at once with `cached: true`. A pathways job runs strength by strength and publishes the
 * pathways of the strengths done so far after each. Every result carries its provenance.
 */
import crypto from 'node:crypto';
import { UserError } from '../errors.ts';
import { attackRecord } from '../attacks/index.ts';
import { explainerRecord } from '../explain/index.ts';
import { checkStrengths, SWEEP_DEFAULTS } from '../pathways/sweep.ts';
import type { HighlightMeasure } from '../pathways/highlight.ts';
import { provenance } from '../report/provenance.ts';
import type { WorkerPool } from '../node/pool.ts';
import { HttpError, oneLine } from './errors.ts';
import type { ModelRegistry, ServedModel } from './models.ts';
import type { ImageStore, StoredImage } from './images.ts';
import type { PathwaysStepOptions, Top } from './tasks.ts';
import { jobOptions, jobOptionSpecs, type JobOptionSpecs } from './jobOptions.ts';

export type JobKind = 'pathways' | 'attack' | 'saliency' | 'curve' | 'featurevis' | 'patches' | 'exploits';
export const JOB_KINDS: readonly JobKind[] = [
  'pathways',
  'attack',
  'saliency',
  'curve',
  'featurevis',
  'patches',
  'exploits',
];
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** The limits of the queue and of one job. */
export interface JobLimits {
  /** Jobs waiting to start, all clients together. */
  queue: number;
  /** Jobs queued or running per client (by address). */
  perClient: number;
  /** Jobs running at once (their tasks share the pool). */
  running: number;
  imagesPerJob: number;
  strengths: number;
  /** Largest `steps` (and any iteration count) a job may ask for. */
  steps: number;
  /** Finished jobs kept for GET, and results kept in the cache. */
  keepJobs: number;
  cacheEntries: number;
}

/**
 * What listeners of a job receive (the SSE events): the event's name and its data as JSON text
 * (`progress`: `{ done, total, label, partial? }`; `done`: `{ result }`; `failed`: `{ error }`;
 * `cancelled`: `{}`). Results travel as JSON text made once (in the worker for pathways), never
 * parsed or serialised again on the event loop: a darknet partial result is megabytes.
 */
export interface JobEvent {
  event: 'progress' | 'done' | 'failed' | 'cancelled';
  data: string;
}

/** Where a result's provenance goes in the text the worker makes (replaced by the job's own). */
const PROVENANCE_SLOT = '"__advlens_provenance__"';

interface Job {
  id: string;
  kind: JobKind;
  client: string;
  key: string;
  state: JobState;
  progress: { done: number; total: number; label: string };
  /** The partial result (pathways: the strengths done so far) and the result, as JSON text. */
  partial?: string;
  result?: string;
  error?: string;
  provenance: Record<string, unknown>;
  cached: boolean;
  spec: JobSpec;
  listeners: Set<(e: JobEvent) => void>;
  started?: number;
  /** Bumped at every change; the serialised view is kept per version (a partial can be large). */
  version: number;
  viewText?: { version: number; text: string };
}

/** A checked job request. */
interface JobSpec {
  kind: JobKind;
  model: ServedModel;
  images: StoredImage[];
  targetImages: StoredImage[];
  options: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A class given by name or index, among the model's labels. */
function classOf(m: ServedModel, v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < m.labels.length) return v;
  if (typeof v === 'string') {
    if (/^\d+$/.test(v) && Number(v) < m.labels.length) return Number(v);
    const i = m.labels.findIndex((l) => l.toLowerCase() === v.toLowerCase());
    if (i >= 0) return i;
  }
  throw new UserError(
    `${what} ${JSON.stringify(v)?.slice(0, 40)} is not a class of ${m.name}; give an index 0..${m.labels.length - 1} or a label (GET /api/models/${m.id})`,
  );
}

/**
 * An exploits job's `neurons`: per pathways layer, the original and target classes' median activation
 * per channel (a pathways result's `neurons[layer].original.median`, `.target.median`), bounded.
 */
function benignMedians(
  v: unknown,
): Record<string, { original: (number | null)[]; target: (number | null)[] }> {
  const hint = 'neurons is {layer: {original: [median per channel], target: [...]}} from the pathways result';
  if (!isObject(v)) throw new UserError(hint);
  const entries = Object.entries(v);
  if (entries.length === 0 || entries.length > 256) throw new UserError(`${hint}; 1 to 256 layers`);
  const list = (x: unknown, what: string) => {
    if (
      !Array.isArray(x) ||
      x.length === 0 ||
      x.length > 65536 ||
      x.some((y) => y !== null && (typeof y !== 'number' || !Number.isFinite(y)))
    )
      throw new UserError(`neurons.${what} must be a list of 1 to 65536 numbers (or null); ${hint}`);
    return x as (number | null)[];
  };
  const out: Record<string, { original: (number | null)[]; target: (number | null)[] }> = {};
  for (const [layer, n] of entries) {
    const name = layer.slice(0, 40);
    if (!isObject(n)) throw new UserError(`neurons.${name}: ${hint}`);
    out[layer.slice(0, 200)] = {
      original: list(n.original, `${name}.original`),
      target: list(n.target, `${name}.target`),
    };
  }
  return out;
}

function numberIn(v: unknown, what: string, lo: number, hi: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (integer && !Number.isInteger(v)))
    throw new UserError(
      `${what} must be a${integer ? ' whole' : ''} number from ${lo} to ${hi} (got ${JSON.stringify(v)?.slice(0, 30)})`,
    );
  return v;
}

/** Attack options: a flat object of numbers, booleans and strings, iteration counts bounded. */
function attackOptionsOf(v: unknown, maxSteps: number): Record<string, unknown> {
  if (v === undefined) return {};
  if (!isObject(v))
    throw new UserError('attackOptions must be an object of option values, e.g. {"steps": 20}');
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (!['number', 'boolean', 'string'].includes(typeof x) || (typeof x === 'string' && x.length > 100))
      throw new UserError(`attack option ${k.slice(0, 40)} must be a number, true/false or a short string`);
    if (/^(steps|restarts|queries|iterations|rounds|samples|nIter|budget)$/.test(k) && typeof x === 'number')
      numberIn(x, `attack option ${k}`, 0, maxSteps);
    if (k === 'eps' || k === 'target')
      throw new UserError(
        `attack option ${k} is set by the job (strength, target); leave it out of attackOptions`,
      );
    out[k] = x;
  }
  return out;
}

/** Canonical JSON (sorted keys) for the cache key. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** The job manager of one server. */
export class JobManager {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private readonly cache = new Map<string, { result: string; provenance: Record<string, unknown> }>();
  private running = 0;
  private closed = false;

  constructor(
    private readonly pool: () => WorkerPool,
    private readonly models: ModelRegistry,
    private readonly images: ImageStore,
    readonly limits: JobLimits,
    private readonly log: (line: string) => void,
    private readonly datasetsDir?: string,
    /** Stops the work in the pool (the server starts a new pool for the next task). */
    private readonly onStopWork?: () => void,
  ) {
    this.specs = jobOptionSpecs(limits.steps);
  }

  /** The scalar options of each job kind (src/server/jobOptions.ts), bounded by the limits. */
  readonly specs: Record<JobKind, JobOptionSpecs>;

  /** Checks a job request's body into a spec (400 for a bad one). */
  parse(body: unknown): JobSpec {
    if (!isObject(body)) throw new UserError('the job is a JSON object: { kind, model, images, ... }');
    const kind = body.kind as JobKind;
    if (!JOB_KINDS.includes(kind))
      throw new UserError(
        `job kind ${JSON.stringify(body.kind)?.slice(0, 30)} is not one this server runs; use ${JOB_KINDS.join(', ')}`,
      );
    const model = this.models.get(body.model);
    const ids = (v: unknown, what: string, required: boolean): StoredImage[] => {
      if (v === undefined && !required) return [];
      if (!Array.isArray(v) || (required && v.length === 0))
        throw new UserError(`${what} must be a list of image ids from POST /api/images`);
      if (v.length > this.limits.imagesPerJob)
        throw new UserError(
          `${what}: ${v.length} images, more than the ${this.limits.imagesPerJob} one job takes`,
        );
      return v.map((id) => this.images.get(id));
    };
    const L = this.limits;
    let images: StoredImage[] = [];
    let targetImages: StoredImage[] = [];
    const attackName = (v: unknown, targeted: boolean) => {
      const r = attackRecord(typeof v === 'string' ? v : String(v));
      if (targeted && !r.facts.targeted)
        throw new UserError(
          `attack '${r.name}' is not targeted; pathways need a targeted attack (pgd-l2, pgd-linf, ...)`,
        );
      return r.name;
    };
    const strengthList = (v: unknown) => {
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'number'))
        throw new UserError(
          'strengths must be a list of increasing positive numbers, e.g. [0.025, 0.05, 0.1]',
        );
      if (v.length > L.strengths)
        throw new UserError(`${v.length} strengths, more than the ${L.strengths} one job takes`);
      checkStrengths(v as number[]);
      return v as number[];
    };
    const o: Record<string, unknown> = jobOptions(kind, this.specs, body);
    switch (kind) {
      case 'pathways': {
        images = ids(body.images ?? body.originalImages, 'images', true);
        targetImages = ids(body.targetImages, 'targetImages', false);
        // The original class: given, or the top prediction of the first image (a user's photo).
        o.original =
          body.original === undefined || body.original === 'predicted'
            ? 'predicted'
            : classOf(model, body.original, 'original');
        o.target = classOf(model, body.target, 'target');
        if (o.original === o.target)
          throw new UserError('the target class must differ from the original class; pick another target');
        o.attack = attackName(body.attack ?? SWEEP_DEFAULTS.attack, true);
        o.attackOptions = attackOptionsOf(body.attackOptions, L.steps);
        o.strengths = strengthList(body.strengths ?? SWEEP_DEFAULTS.strengths);
        break;
      }
      case 'attack':
      case 'curve': {
        images = ids(body.images, 'images', true);
        o.attack = attackName(body.attack ?? 'pgd-linf', false);
        o.attackOptions = attackOptionsOf(body.attackOptions, L.steps);
        if (body.target !== undefined && body.target !== null) {
          if (!attackRecord(o.attack as string).facts.targeted)
            throw new UserError(
              `attack '${o.attack}' is not targeted; leave out target or pick a targeted attack`,
            );
          o.target = classOf(model, body.target, 'target');
        }
        if (kind === 'curve') o.strengths = strengthList(body.strengths);
        break;
      }
      case 'saliency': {
        images = ids(body.images ?? (body.image === undefined ? undefined : [body.image]), 'images', true);
        const method = explainerRecord(
          typeof body.method === 'string' ? body.method : String(body.method),
        ).name;
        o.method = method;
        if (body.options !== undefined && !isObject(body.options))
          throw new UserError('options must be an object of explainer option values');
        const opts = attackOptionsOf(body.options, L.steps);
        if ('samples' in opts) numberIn(opts.samples, 'samples', 1, L.steps, true);
        o.options = opts;
        if (body.target !== undefined && body.target !== null)
          o.target = classOf(model, body.target, 'target');
        break;
      }
      case 'featurevis':
        break;
      case 'patches': {
        images = ids(body.images, 'images', false);
        if (images.length === 0 && !model.dataset)
          throw new UserError(`${model.name} has no dataset on this server; give images for the patches`);
        break;
      }
      case 'exploits': {
        images = ids(body.images ?? (body.image === undefined ? undefined : [body.image]), 'images', true);
        o.neurons = benignMedians(body.neurons);
        break;
      }
    }
    return { kind, model, images, targetImages, options: o };
  }

  /** Submits a job: a cached result at once, the same running job, or a new queued one (429 when full). */
  async submit(body: unknown, client: string): Promise<{ id: string; cached: boolean }> {
    if (this.closed) throw new HttpError(503, 'the server is shutting down; try again when it is back');
    const spec = this.parse(body);
    const modelHash = await this.models.hash(spec.model);
    const key = crypto
      .createHash('sha256')
      .update(
        canonical({
          kind: spec.kind,
          model: modelHash,
          images: spec.images.map((i) => i.sha256),
          targetImages: spec.targetImages.map((i) => i.sha256),
          options: spec.options,
        }),
      )
      .digest('hex');
    const prov = {
      ...provenance('advlens serve: POST /api/jobs', {
        job: { kind: spec.kind, ...spec.options },
        model: {
          id: spec.model.id,
          name: spec.model.name,
          architecture: spec.model.architecture,
          source: spec.model.source,
          sha256: modelHash,
        },
        images: spec.images.map((i) => ({ id: i.id, name: i.name, sha256: i.sha256 })),
        ...(spec.targetImages.length && {
          targetImages: spec.targetImages.map((i) => ({ id: i.id, name: i.name, sha256: i.sha256 })),
        }),
      }),
    } as Record<string, unknown>;
    const hit = this.cache.get(key);
    if (hit) {
      // Refresh its place in the cache (least recently used goes first).
      this.cache.delete(key);
      this.cache.set(key, hit);
      const job = this.create(spec, client, key, { ...hit.provenance, cachedAt: new Date().toISOString() });
      job.state = 'done';
      job.cached = true;
      job.result = hit.result;
      job.progress = { done: 1, total: 1, label: 'cached' };
      this.retire();
      return { id: job.id, cached: true };
    }
    const same = [...this.jobs.values()].find(
      (j) => j.key === key && (j.state === 'queued' || j.state === 'running'),
    );
    if (same) return { id: same.id, cached: false };
    const mine = [...this.jobs.values()].filter(
      (j) => j.client === client && (j.state === 'queued' || j.state === 'running'),
    ).length;
    if (mine >= this.limits.perClient)
      throw new HttpError(
        429,
        `busy: you already have ${mine} jobs queued or running (the limit per client is ${this.limits.perClient}); wait for one to finish or cancel one (DELETE /api/jobs/<id>)`,
      );
    if (this.queue.length >= this.limits.queue)
      throw new HttpError(
        429,
        `busy: ${this.queue.length} jobs are waiting already (the server queues at most ${this.limits.queue}); try again in a minute`,
      );
    const job = this.create(spec, client, key, prov);
    this.queue.push(job);
    this.pump();
    return { id: job.id, cached: false };
  }

  private create(spec: JobSpec, client: string, key: string, prov: Record<string, unknown>): Job {
    const job: Job = {
      id: `job-${crypto.randomBytes(8).toString('hex')}`,
      kind: spec.kind,
      client,
      key,
      state: 'queued',
      progress: {
        done: 0,
        total: spec.kind === 'pathways' ? (spec.options.strengths as number[]).length : 1,
        label: 'queued',
      },
      provenance: prov,
      cached: false,
      spec,
      listeners: new Set(),
      version: 0,
    };
    this.jobs.set(job.id, job);
    return job;
  }

  /** The job `id` (404 otherwise). */
  private job(id: unknown): Job {
    const j = typeof id === 'string' ? this.jobs.get(id) : undefined;
    if (!j)
      throw new HttpError(
        404,
        `no job '${String(id).slice(0, 40)}' (finished jobs are kept a while; submit it again)`,
      );
    return j;
  }

  /** Whether job `id` exists (a 404 otherwise). */
  has(id: unknown): void {
    this.job(id);
  }

  /**
   * The API's view of job `id` as JSON text: `{ id, kind, state, cached, progress, error?, provenance,
   * partial? | result? }`, made once per change of the job (the result spliced in as text).
   */
  viewText(id: unknown): string {
    const j = this.job(id);
    if (j.viewText?.version !== j.version) {
      const head = JSON.stringify({
        id: j.id,
        kind: j.kind,
        state: j.state,
        cached: j.cached,
        progress: j.progress,
        ...(j.error !== undefined && { error: j.error }),
        provenance: j.provenance,
      });
      const tail =
        j.result !== undefined
          ? `,"result":${j.result}`
          : j.partial !== undefined && j.state === 'running'
            ? `,"partial":${j.partial}`
            : '';
      j.viewText = { version: j.version, text: head.slice(0, -1) + tail + '}' };
    }
    return j.viewText.text;
  }

  /** Follows job `id`: the current state first, then every event; returns the unsubscribe function. */
  listen(id: unknown, fn: (e: JobEvent) => void): () => void {
    const j = this.job(id);
    const now = this.stateEvent(j);
    fn(now);
    if (j.state === 'done' || j.state === 'failed' || j.state === 'cancelled') return () => undefined;
    j.listeners.add(fn);
    return () => j.listeners.delete(fn);
  }

  private stateEvent(j: Job): JobEvent {
    if (j.state === 'done') return { event: 'done', data: `{"result":${j.result}}` };
    if (j.state === 'failed')
      return { event: 'failed', data: JSON.stringify({ error: j.error ?? 'failed' }) };
    if (j.state === 'cancelled') return { event: 'cancelled', data: '{}' };
    return this.progressEvent(j);
  }

  /** A progress event; with the partial result when asked (a new one, or a listener's first event). */
  private progressEvent(j: Job, withPartial = true): JobEvent {
    const head = JSON.stringify(j.progress);
    return {
      event: 'progress',
      data: j.partial === undefined || !withPartial ? head : `${head.slice(0, -1)},"partial":${j.partial}}`,
    };
  }

  private emit(j: Job, e: JobEvent): void {
    j.version++;
    for (const fn of j.listeners) fn(e);
    if (e.event !== 'progress') j.listeners.clear();
  }

  /** Cancels job `id`: a queued one never starts; a running one stops after its current step. */
  cancel(id: unknown): { id: string; state: JobState } {
    const j = this.job(id);
    // The only running job: its task is stopped with the worker (a new one starts for the next job),
    // instead of computing its current step (a strength of darknet: a minute) for nothing.
    if (j.state === 'running' && this.running === 1) this.onStopWork?.();
    if (j.state === 'queued' || j.state === 'running') {
      const q = this.queue.indexOf(j);
      if (q >= 0) this.queue.splice(q, 1);
      j.state = 'cancelled';
      this.emit(j, { event: 'cancelled', data: '{}' });
      this.retire();
    }
    return { id: j.id, state: j.state };
  }

  /** Counts for /api/health. */
  counts() {
    return { queued: this.queue.length, running: this.running, cached: this.cache.size };
  }

  private pump(): void {
    while (!this.closed && this.running < this.limits.running && this.queue.length > 0) {
      const j = this.queue.shift()!;
      this.running++;
      void this.run(j).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  /** Progress of a running job; `partial` (JSON text) replaces the partial result. */
  private progress(j: Job, done: number, total: number, label: string, partial?: string): void {
    if (j.state !== 'running') return;
    j.progress = { done, total, label };
    if (partial !== undefined) j.partial = partial;
    this.emit(j, this.progressEvent(j, partial !== undefined));
  }

  private async run(j: Job): Promise<void> {
    if (j.state !== 'queued') return;
    j.state = 'running';
    j.started = performance.now();
    this.progress(j, 0, j.progress.total, 'starting');
    try {
      const finish = await this.compute(j);
      if ((j.state as JobState) === 'cancelled' || !finish) return;
      const seconds = Math.round((performance.now() - j.started) / 100) / 10;
      j.provenance = { ...j.provenance, seconds };
      const result = finish(JSON.stringify(j.provenance));
      j.result = result;
      j.partial = undefined;
      j.state = 'done';
      j.progress = { ...j.progress, done: j.progress.total, label: 'done' };
      this.cache.set(j.key, { result, provenance: j.provenance });
      while (this.cache.size > this.limits.cacheEntries) this.cache.delete(this.cache.keys().next().value!);
      this.emit(j, { event: 'done', data: `{"result":${result}}` });
    } catch (e) {
      if ((j.state as JobState) === 'cancelled') return;
      j.state = 'failed';
      const user = e instanceof UserError || e instanceof HttpError;
      j.error = user
        ? oneLine((e as Error).message)
        : /memory access out of bounds|out of memory|Cannot enlarge memory/i.test(
              String((e as Error)?.message),
            )
          ? 'the computation ran out of memory; use fewer or smaller images, fewer steps or a smaller model'
          : 'internal error while computing (the server log has the details); try again, or report it if it repeats';
      if (!user) this.log(`job ${j.id} (${j.kind}) failed: ${(e as Error)?.stack ?? String(e)}`);
      this.emit(j, { event: 'failed', data: JSON.stringify({ error: j.error }) });
    } finally {
      this.retire();
    }
  }

  /** Forgets the oldest finished jobs past the limit. */
  private retire(): void {
    const finished = [...this.jobs.values()].filter((x) => x.state !== 'queued' && x.state !== 'running');
    for (const x of finished.slice(0, Math.max(0, finished.length - this.limits.keepJobs)))
      this.jobs.delete(x.id);
  }

  private imageFiles(list: StoredImage[]): string[] {
    return list.map((i) => this.images.file(i.id));
  }

  /** Registers the adversarial images a job made, so saliency can take them by id. */
  private storeViews<T extends { adversarial: string }>(views: T[], name: string): (T & { id: string })[] {
    return views.map((v, i) => {
      const png = Buffer.from(v.adversarial.replace(/^data:image\/png;base64,/, ''), 'base64');
      const rec = this.images.addPng(png, [0, 0], `${name} ${i}`);
      return { ...v, id: rec.id };
    });
  }

  /**
   * Computes job `j`; answers how to make its result's JSON text from the provenance's (known at the
   * end: it records the seconds), or undefined when the job was cancelled.
   */
  private async compute(j: Job): Promise<((provenance: string) => string) | undefined> {
    const { model, options: o } = j.spec;
    const ref = { dir: model.dir, preset: model.preset };
    const images = this.imageFiles(j.spec.images);
    const pool = this.pool();
    const withProvenance = (r: object) => {
      const text = JSON.stringify({ ...r, provenance: null });
      return (prov: string) => `${text.slice(0, -'null}'.length)}${prov}}`;
    };
    switch (j.kind) {
      case 'attack': {
        const r = await pool.run<{ images: { adversarial: string }[] }>('srvAttack', {
          model: ref,
          images,
          attack: o.attack,
          attackOptions: o.attackOptions,
          target: o.target,
          strength: o.strength,
          seed: o.seed,
        });
        return withProvenance({ images: this.storeViews(r.images, `${o.attack}@${o.strength}`) });
      }
      case 'saliency': {
        const r = await pool.run<object>('srvSaliency', {
          model: ref,
          images,
          method: o.method,
          options: o.options,
          target: o.target,
        });
        return withProvenance(r);
      }
      case 'curve': {
        const r = await pool.run<object>('srvCurve', {
          model: ref,
          images,
          attack: o.attack,
          attackOptions: o.attackOptions,
          strengths: o.strengths,
          target: o.target,
          seed: o.seed,
        });
        return withProvenance(r);
      }
      case 'featurevis': {
        const r = await pool.run<object>('srvFeatureVis', {
          model: ref,
          layer: o.layer,
          channel: o.channel,
          steps: o.steps,
          seed: o.seed,
        });
        return withProvenance(r);
      }
      case 'patches': {
        const r = await pool.run<object>('srvPatches', {
          model: ref,
          layer: o.layer,
          channel: o.channel,
          images,
          spec: model.dataset,
          limit: o.limit,
          count: o.count,
          dataDir: this.datasetsDir,
        });
        return withProvenance(r);
      }
      case 'exploits': {
        const r = await pool.run<object>('srvExploits', {
          model: ref,
          images,
          k: o.k,
          neurons: o.neurons,
        });
        return withProvenance(r);
      }
      case 'pathways':
        return this.pathways(j, pool, ref, images);
    }
  }

  /**
   * The pathways job: start, one task per strength (each publishing the partial result), end. The
   * worker sends the three artefacts as JSON text with a slot for the provenance; the event loop only
   * joins texts.
   */
  private async pathways(j: Job, pool: WorkerPool, ref: { dir: string; preset?: string }, images: string[]) {
    const o = j.spec.options;
    const strengths = o.strengths as number[];
    // All of a job's tasks go to one worker, which keeps its images and attacked images between them.
    const w = parseInt(j.id.slice(4, 12), 16) % pool.size;
    const S = strengths.length;
    this.progress(j, 0, S, `loading ${j.spec.model.name} and the images`);
    const start = await pool.runOn<{ clean: Top[][] }>(w, 'srvPathwaysStart', {
      job: j.id,
      model: ref,
      images,
      targetImages: this.imageFiles(j.spec.targetImages),
      original: o.original,
      target: o.target,
    });
    const step: PathwaysStepOptions = {
      attack: o.attack as string,
      attackOptions: o.attackOptions as Record<string, unknown>,
      strengths,
      steps: o.steps as number,
      stepFraction: o.stepFraction as number,
      keep: o.keep as 'successful' | 'all',
      k: o.k as number,
      seed: o.seed as number,
      batchSize: 32,
      measure: o.measure as HighlightMeasure,
      neurons: o.neurons as number,
      edges: o.edges as number,
    };
    const clean = JSON.stringify(
      j.spec.images.map((im, i) => ({ id: im.id, name: im.name, top5: start.clean[i] })),
    );
    const perStrength: string[] = [];
    let last: { pathways: string; neurons: string; edges: string } | undefined;
    const text = (prov: string, complete: boolean) => {
      const [pathwaysText, at] = [last!.pathways, last!.pathways.lastIndexOf(PROVENANCE_SLOT)];
      return (
        `{"pathways":${pathwaysText.slice(0, at)}${prov}${pathwaysText.slice(at + PROVENANCE_SLOT.length)}` +
        `,"neurons":${last!.neurons},"edges":${last!.edges},"strengths":[${perStrength.join(',')}]` +
        `,"clean":${clean},"complete":${complete}}`
      );
    };
    try {
      for (let k = 0; k < S; k++) {
        if ((j.state as JobState) === 'cancelled') return undefined;
        this.progress(j, k, S, `attacking at strength ${strengths[k]}`);
        const r = await pool.runOn<{
          pathways: string;
          neurons: string;
          edges: string;
          images: { adversarial: string }[];
        }>(w, 'srvPathwaysStrength', { job: j.id, k, options: step, provenanceSlot: PROVENANCE_SLOT });
        perStrength.push(
          JSON.stringify({
            strength: strengths[k],
            images: this.storeViews(r.images, `pathways ${o.attack}@${strengths[k]}`),
          }),
        );
        last = r;
        if (k + 1 < S)
          this.progress(
            j,
            k + 1,
            S,
            `strength ${strengths[k]} done`,
            text(JSON.stringify(j.provenance), false),
          );
      }
    } finally {
      await pool.runOn(w, 'srvPathwaysEnd', { job: j.id }).catch(() => undefined);
    }
    return (prov: string) => text(prov, true);
  }

  /** Stops taking jobs; queued ones are cancelled. */
  close(): void {
    this.closed = true;
    for (const j of this.queue.splice(0)) {
      j.state = 'cancelled';
      this.emit(j, { event: 'cancelled', data: '{}' });
    }
  }
}
