/**
 * A listening explorer server driven over real HTTP (fetch and server-sent events), for the tests
 * that need a socket (health while a job runs, the load test) and the darknet measurement.
 */
import type { FastifyInstance } from 'fastify';
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { server } from './helpers.ts';
import type { ServerOptions } from '../../src/server/app.ts';

export interface Live {
  app: FastifyInstance;
  base: string;
  close(): Promise<void>;
}

/** A server listening on a free loopback port. */
export async function live(o: ServerOptions = {}): Promise<Live> {
  const app = await server(o);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, base: address, close: () => app.close() };
}

/** Uploads image files over HTTP; answers their ids. */
export async function uploadFiles(base: string, files: string[]): Promise<string[]> {
  const form = new FormData();
  for (const f of files) form.append('file', new Blob([fs.readFileSync(f)]), f.split('/').pop());
  const r = await fetch(`${base}/api/images`, { method: 'POST', body: form });
  const body = (await r.json()) as { images?: { id: string }[]; error?: string };
  if (!r.ok || !body.images) throw new Error(`upload failed: ${r.status} ${body.error}`);
  return body.images.map((i) => i.id);
}

/** POSTs a job over HTTP. */
export async function submit(base: string, body: unknown): Promise<{ id: string; cached: boolean }> {
  const r = await fetch(`${base}/api/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const j = (await r.json()) as { id: string; cached: boolean; error?: string };
  if (!r.ok) throw new Error(`job refused: ${r.status} ${j.error}`);
  return j;
}

/** One server-sent event. */
export interface Sse {
  event: string;
  data: any;
  /** Milliseconds since `events` was called. */
  at: number;
}

/**
 * Reads job `id`'s events, calling `on` for each, until done/failed/cancelled or `on` returns
 * 'stop'; answers them all.
 */
export async function events(
  base: string,
  id: string,
  on: (e: Sse) => void | 'stop' = () => undefined,
): Promise<Sse[]> {
  const t0 = performance.now();
  const ac = new AbortController();
  const r = await fetch(`${base}/api/jobs/${id}/events`, { signal: ac.signal });
  if (!r.ok || !r.body) throw new Error(`events: HTTP ${r.status}`);
  const out: Sse[] = [];
  const dec = new TextDecoder();
  let buf = '';
  try {
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
      buf += dec.decode(chunk, { stream: true });
      let k: number;
      while ((k = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, k);
        buf = buf.slice(k + 2);
        if (block.startsWith(':')) continue;
        const ev = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null');
        const e = { event: ev, data, at: performance.now() - t0 };
        out.push(e);
        if (on(e) === 'stop' || ev !== 'progress') {
          ac.abort();
          return out;
        }
      }
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  }
  return out;
}

/** Polls /api/health every `everyMs` until `until` resolves; answers the latencies in ms. */
export async function healthWhile(base: string, until: Promise<unknown>, everyMs = 25): Promise<number[]> {
  let done = false;
  void until.finally(() => (done = true));
  const lat: number[] = [];
  while (!done) {
    const t0 = performance.now();
    const r = await fetch(`${base}/api/health`);
    if (!r.ok) throw new Error(`health: HTTP ${r.status}`);
    await r.json();
    lat.push(performance.now() - t0);
    await new Promise((res) => setTimeout(res, everyMs));
  }
  return lat;
}

export const pct = (v: number[], q: number) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((q / 100) * s.length))];
};

/** A server in a child process (test/server/child.ts): its event loop apart from the client's. */
export async function childServer(): Promise<{
  base: string;
  child: ChildProcess;
  memory(): Promise<NodeJS.MemoryUsage>;
  stop(): Promise<void>;
}> {
  const child = fork(path.resolve('test/server/child.ts'), [], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]).base as string);
    });
    child.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
  });
  return {
    base,
    child,
    memory: () =>
      new Promise((resolve) => {
        child.once('message', (m: { memory: NodeJS.MemoryUsage }) => resolve(m.memory));
        child.send('memory');
      }),
    stop: () =>
      new Promise((resolve) => {
        const t = setTimeout(() => {
          child.kill();
          resolve();
        }, 5000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.send('stop');
      }),
  };
}
