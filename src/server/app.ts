/**
 * The explorer's server (`advlens serve`): a Fastify app that serves the built web app (dist/explorer)
 * and a JSON API over the library: models (zoo, darknet tiny, uploads), images (uploads, dataset
 * samples), the attack and explainer registries with their option specs, and jobs (pathways, attack,
 * saliency, curve) run on the worker pool with progress over server-sent events, cancellation and a
 * content-hash cache. Hardened: bounded bodies, uploads sniffed and decoded with limits and stored
 * under server-chosen names, no path outside the server's folders, a strict Content-Security-Policy,
 * and errors as `{ error }` with one line a person understands (never a stack).
 *
 *   const app = await createServer({ dataDir: '/tmp/x' });
 *   const res = await app.inject({ method: 'GET', url: '/api/models' });
 *   await app.close();
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import { UserError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { ATTACKS } from '../attacks/index.ts';
import { EXPLAINERS } from '../explain/index.ts';
import type { OptionSpec } from '../options.ts';
import { initNodeBackend } from '../node/backend.ts';
import { createPool, type WorkerPool } from '../node/pool.ts';
import type { BackendName } from '../engine/backend.ts';
import { errorAnswer, HttpError } from './errors.ts';
import { checkModelFolder, hashModelFolder, ModelRegistry, modelJson } from './models.ts';
import { ImageStore } from './images.ts';
import { JobManager, type JobLimits } from './jobs.ts';

/** The package's root folder (src/server/app.ts and dist/server/app.js are both two levels down). */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Limits of requests and uploads. */
export interface ServerLimits extends JobLimits {
  /** Largest JSON body. */
  bodyBytes: number;
  /** Largest image file, and largest decoded image in pixels. */
  imageBytes: number;
  imagePixels: number;
  /** Images per upload request. */
  imagesPerUpload: number;
  /** Largest uploaded model (all its files together) and most files in one. */
  modelBytes: number;
  modelFiles: number;
}

/** The default limits (see README, Explorer). */
export const DEFAULT_LIMITS: ServerLimits = {
  bodyBytes: 1024 * 1024,
  imageBytes: 20 * 1024 * 1024,
  imagePixels: 40_000_000,
  imagesPerUpload: 16,
  modelBytes: 256 * 1024 * 1024,
  modelFiles: 64,
  queue: 12,
  perClient: 6,
  running: 4,
  imagesPerJob: 16,
  strengths: 20,
  steps: 1000,
  keepJobs: 200,
  cacheEntries: 64,
};

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** More model folders (a model folder, or a folder of them), beside the zoo and darknet tiny. */
  models?: string[];
  /** The zoo folder (default models/ in the package). */
  zooDir?: string;
  /** Where darknet tiny is looked for (default ../shared/models/darknet-tiny beside the package). */
  darknetDir?: string;
  /** The server's own folder for uploads (default a new folder under os.tmpdir()). */
  dataDir?: string;
  /** Where datasets are looked for (dataset samples). */
  datasetsDir?: string;
  /** The built web app (default dist/explorer in the package). */
  uiDir?: string;
  /** Worker threads for jobs (default 1: this machine's cores are shared). */
  workers?: number;
  backend?: BackendName;
  limits?: Partial<ServerLimits>;
  /** The server's log (default stderr). */
  log?: (line: string) => void;
  /** Load a model in the worker when a page opens it (GET /api/models/:id; default true). */
  warm?: boolean;
}

/** The Content-Security-Policy of every answer: only this origin; no inline script; wasm for the in-browser worker. */
export const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

/** An option spec as JSON: name, type, default, range, choices, description (functions dropped). */
export function specJson(name: string, s: OptionSpec) {
  return {
    name,
    type: s.type,
    description: s.doc,
    ...(s.default !== undefined && typeof s.default !== 'object' && { default: s.default }),
    ...(s.defaultText !== undefined && { defaultText: s.defaultText }),
    ...(s.required && { required: true }),
    ...(s.metavar !== undefined && { metavar: s.metavar }),
    ...(s.type === 'number' && {
      ...(s.min !== undefined && { min: s.min }),
      ...(s.max !== undefined && { max: s.max }),
      ...(s.integer && { integer: true }),
      ...(s.exclusiveMin && { exclusiveMin: true }),
    }),
    ...(s.type === 'choice' && { choices: [...s.choices] }),
    ...(s.type === 'value' && {
      expects: s.expects,
      ...(s.textChoices && { choices: [...s.textChoices] }),
    }),
  };
}

const specsJson = (specs: object) =>
  Object.entries(specs as Record<string, OptionSpec>)
    .filter(([, s]) => !s.refused)
    .map(([n, s]) => specJson(n, s));

/** The client a request counts against: its address. */
const clientOf = (req: FastifyRequest) => req.ip || 'unknown';

/** The worker pool's task module, beside this file (TypeScript from the sources, JavaScript built). */
const TASKS_MODULE = new URL(
  new URL(import.meta.url).pathname.endsWith('.ts') ? './tasks.ts' : './tasks.js',
  import.meta.url,
);

/**
 * Builds the server (not listening: call `listen`, or `inject` in tests). Closing it stops the
 * worker pool; the data folder is removed when the server made it.
 */
export async function createServer(o: ServerOptions = {}): Promise<FastifyInstance> {
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...o.limits };
  const log = o.log ?? ((line: string) => process.stderr.write(`advlens serve: ${line}\n`));
  await initNodeBackend(o.backend ?? 'wasm');
  const ownData = !o.dataDir;
  const dataDir = o.dataDir
    ? path.resolve(o.dataDir)
    : fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-serve-'));
  fs.mkdirSync(dataDir, { recursive: true });
  const modelsDir = path.join(dataDir, 'models');
  fs.mkdirSync(modelsDir, { recursive: true });
  const images = new ImageStore(path.join(dataDir, 'images'), limits);

  const registry = new ModelRegistry();
  registry.addTree(o.zooDir ?? path.join(PACKAGE_ROOT, 'models'), 'zoo');
  const darknet = o.darknetDir ?? path.join(PACKAGE_ROOT, '..', 'shared', 'models', 'darknet-tiny');
  if (fs.existsSync(path.join(darknet, 'model.json'))) registry.addFolder(darknet, 'preset');
  for (const d of o.models ?? []) registry.addTree(path.resolve(d), 'preset');
  for (const name of fs.readdirSync(modelsDir))
    if (/^up-[0-9a-f]{12}$/.test(name)) registry.addFolder(path.join(modelsDir, name), 'upload');
  for (const s of registry.skipped) log(`skipped a model: ${s}`);

  let pool: WorkerPool | null = null;
  const getPool = () => {
    if (!pool) pool = createPool({ workers: o.workers ?? 1, taskModules: [TASKS_MODULE] });
    return pool;
  };
  // Opening a model warms it in the worker (loaded, kernels ready) while the user picks images.
  const warmed = new Set<string>();
  /** Stops the pool's work: its workers end, the next task starts a new pool. */
  const restartPool = () => {
    if (!pool) return;
    void pool.close();
    pool = null;
    warmed.clear();
  };
  const jobs = new JobManager(
    getPool,
    registry,
    images,
    limits,
    (line) => {
      log(line);
      // A pool whose worker died fails every later task: start a new one for the next job.
      if (/pool worker \d+ (crashed|stopped)/.test(line)) restartPool();
    },
    o.datasetsDir,
    restartPool,
  );

  const app = Fastify({ logger: false, bodyLimit: limits.bodyBytes, trustProxy: false });
  await app.register(multipart, {
    limits: {
      fileSize: limits.imageBytes,
      files: limits.imagesPerUpload,
      parts: limits.imagesPerUpload + 8,
      fields: 8,
      fieldSize: 1024,
      headerPairs: 100,
    },
  });

  app.addHook('onRequest', async (_req, reply) => {
    reply.headers(SECURITY_HEADERS);
  });
  app.setErrorHandler((err, req, reply) => {
    const a = errorAnswer(err, limits);
    if (a.internal) log(`${req.method} ${req.url}: ${(err as Error)?.stack ?? String(err)}`);
    void reply.code(a.status).type('application/json').send({ error: a.error });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({
      error: `no such route: ${req.method} ${req.url.split('?')[0].slice(0, 100)}; the API is under /api`,
    });
  });
  app.addHook('onClose', async () => {
    jobs.close();
    if (pool) await pool.close();
    if (ownData) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  // --- health and registries
  app.get('/api/health', async () => ({ ok: true, version: VERSION, jobs: jobs.counts() }));
  // The registries do not change while the server runs: serialised once.
  const attacksText = JSON.stringify({
    attacks: Object.values(ATTACKS).map((r) => ({
      name: r.name,
      summary: r.summary,
      targeted: r.facts.targeted,
      facts: r.facts,
      options: specsJson(r.options),
    })),
  });
  const explainersText = JSON.stringify({
    explainers: Object.values(EXPLAINERS).map((r) => ({
      name: r.name,
      summary: r.summary,
      facts: { ...r.facts, samplesPerImage: undefined },
      options: specsJson(r.options),
    })),
  });
  app.get('/api/attacks', async (_req, reply) => reply.type('application/json').send(attacksText));
  app.get('/api/explainers', async (_req, reply) => reply.type('application/json').send(explainersText));

  // --- models
  app.get('/api/models', async (_req, reply) => reply.type('application/json').send(registry.listText()));
  app.get('/api/models/:id', async (req) => {
    const m = registry.get((req.params as { id: string }).id);
    if (!warmed.has(m.id) && o.warm !== false) {
      warmed.add(m.id);
      getPool()
        .run('srvWarm', { model: { dir: m.dir, preset: m.preset } })
        .catch(() => warmed.delete(m.id));
    }
    return modelJson(m, true);
  });
  app.post('/api/models', async (req, reply) => {
    if (!req.isMultipart())
      throw new HttpError(406, 'upload a model as multipart/form-data: model.json and its weight files');
    const tmp = path.join(modelsDir, `tmp-${crypto.randomBytes(6).toString('hex')}`);
    fs.mkdirSync(tmp);
    try {
      let total = 0;
      const names = new Set<string>();
      const parts = req.files({
        limits: { fileSize: limits.modelBytes, files: limits.modelFiles, parts: limits.modelFiles + 8 },
      });
      for await (const part of parts) {
        let name = part.filename;
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name) || name.includes('..'))
          throw new UserError(
            `file name ${JSON.stringify(name.slice(0, 60))} is not a plain file name (letters, digits, '.', '_', '-'; no folders); rename it`,
          );
        if (name === 'card.json') name = 'advlens.json';
        if (names.has(name))
          throw new UserError(`the upload has two files named ${name}; send each file once`);
        names.add(name);
        const tooBig = () =>
          new HttpError(
            413,
            `the model is larger than the ${limits.modelBytes} bytes this server takes; upload a smaller model`,
          );
        let buf: Buffer;
        try {
          buf = await part.toBuffer();
        } catch (e) {
          throw (e as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE' ? tooBig() : e;
        }
        if (part.file.truncated) throw tooBig();
        total += buf.length;
        if (total > limits.modelBytes) throw tooBig();
        fs.writeFileSync(path.join(tmp, name), buf, { flag: 'wx' });
      }
      checkModelFolder(tmp, limits.modelBytes);
      const id = `up-${(await hashModelFolder(tmp)).slice(0, 12)}`;
      const dir = path.join(modelsDir, id);
      if (fs.existsSync(dir)) fs.rmSync(tmp, { recursive: true, force: true });
      else fs.renameSync(tmp, dir);
      try {
        const m = await registry.addUpload(dir, id);
        return reply.code(201).send({ id: m.id, model: modelJson(m, false) });
      } catch (e) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw e instanceof UserError ? new UserError(e.message.replaceAll(dir, 'the upload')) : e;
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
  app.get('/api/models/:id/samples', async (req) => {
    const m = registry.get((req.params as { id: string }).id);
    const q = req.query as { class?: string; n?: string };
    if (!m.dataset)
      throw new HttpError(
        404,
        `this server has no dataset for ${m.name}; upload images instead (POST /api/images)`,
      );
    const c = Number(q.class ?? 0);
    const n = Number(q.n ?? 8);
    if (!Number.isInteger(c) || c < 0 || c >= m.labels.length)
      throw new UserError(`class must be an index 0..${m.labels.length - 1}`);
    if (!Number.isInteger(n) || n < 1 || n > limits.imagesPerUpload)
      throw new UserError(`n must be a whole number from 1 to ${limits.imagesPerUpload}`);
    const r = await getPool().run<{
      x: Float32Array;
      shape: [number, number, number, number];
      names: string[];
    }>('srvSamples', {
      model: { dir: m.dir, preset: m.preset },
      spec: m.dataset,
      c,
      n,
      dataDir: o.datasetsDir,
    });
    const [k, h, w, ch] = r.shape;
    const out = [];
    for (let i = 0; i < k; i++) {
      const px = r.x.subarray(i * h * w * ch, (i + 1) * h * w * ch);
      const rec = await images.addPixels(px, [h, w, ch], r.names[i]);
      out.push({ id: rec.id, width: rec.width, height: rec.height, name: r.names[i], label: m.labels[c] });
    }
    return { images: out };
  });

  // --- images
  app.post('/api/images', async (req, reply) => {
    if (!req.isMultipart())
      throw new HttpError(406, "upload images as multipart/form-data in the field 'file'");
    const out = [];
    for await (const part of req.files()) {
      const buf = await part.toBuffer();
      if (part.file.truncated)
        throw new HttpError(
          413,
          `an uploaded file is larger than the ${limits.imageBytes} bytes this server takes per image`,
        );
      const rec = await images.add(buf, part.filename);
      out.push({ id: rec.id, width: rec.width, height: rec.height, name: rec.name });
    }
    if (out.length === 0)
      throw new UserError("no file in the upload; send images in the multipart field 'file'");
    return reply.code(201).send({ images: out });
  });
  app.get('/api/images/:id', async (req, reply) => {
    const png = images.png((req.params as { id: string }).id);
    return reply.type('image/png').header('cache-control', 'private, max-age=86400, immutable').send(png);
  });

  // --- jobs
  app.post('/api/jobs', async (req, reply) => {
    const r = await jobs.submit(req.body, clientOf(req));
    return reply.code(r.cached ? 200 : 202).send(r);
  });
  app.get('/api/jobs/:id', async (req, reply) =>
    reply.type('application/json').send(jobs.viewText((req.params as { id: string }).id)),
  );
  app.delete('/api/jobs/:id', async (req) => jobs.cancel((req.params as { id: string }).id));
  // Open event streams, ended when the server closes (a page left open must not hold the close).
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...streams]) end();
  });
  app.get('/api/jobs/:id/events', (req, reply) => sse(req, reply, jobs, streams));

  // --- the web app
  const uiDir = o.uiDir ?? path.join(PACKAGE_ROOT, 'dist', 'explorer');
  if (fs.existsSync(path.join(uiDir, 'index.html'))) {
    await app.register(fastifyStatic, { root: uiDir, prefix: '/', index: 'index.html', dotfiles: 'deny' });
  } else {
    app.get('/', async (_req, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .send(
          `<!doctype html><meta charset="utf-8"><title>advlens explorer</title><h1>advlens explorer</h1><p>The web app is not built: run <code>npm run build</code>, then start <code>advlens serve</code> again. The API answers under <a href="/api/health">/api</a>.</p>`,
        ),
    );
  }
  app.decorate('advlens', { dataDir, registry, images, jobs, limits });
  return app;
}

/** Server-sent events of one job: its state now, then progress, and done / failed / cancelled. */
function sse(req: FastifyRequest, reply: FastifyReply, jobs: JobManager, streams: Set<() => void>): void {
  const id = (req.params as { id: string }).id;
  jobs.has(id); // 404 before the stream starts
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  let open = true;
  let stop: () => void = () => undefined;
  const end = () => {
    if (!open) return;
    open = false;
    streams.delete(end);
    clearInterval(ping);
    stop();
    res.end();
  };
  streams.add(end);
  const ping = setInterval(() => res.write(': keep-alive\n\n'), 15000);
  req.raw.on('close', end);
  stop = jobs.listen(id, (e) => {
    if (!open) return;
    res.write(`event: ${e.event}\ndata: ${e.data}\n\n`);
    if (e.event !== 'progress') end();
  });
}
