/** Helpers of the explorer server's tests: a server on a fresh folder, images, multipart bodies. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { createServer, type ServerOptions } from '../../src/server/app.ts';

export const DARKNET = path.resolve('../shared/models/darknet-tiny');
export const CAT = path.resolve('../shared/data/photos/cat.jpg');
/** Why a test that needs ../shared is skipped (false when it is there). */
export const NO_SHARED: string | false =
  fs.existsSync(path.join(DARKNET, 'model.json')) && fs.existsSync(CAT)
    ? false
    : 'needs ../shared/models/darknet-tiny and ../shared/data/photos/cat.jpg (the project data folder)';

/** A server on a new folder under os.tmpdir() (removed on close). */
export async function server(o: ServerOptions = {}): Promise<FastifyInstance> {
  return createServer({ uiDir: path.join(os.tmpdir(), 'advlens-no-ui'), log: () => undefined, ...o });
}

/** A PNG of w x h RGB pixels, a smooth pattern from `seed`. */
export async function png(w: number, h: number, seed = 0): Promise<Buffer> {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      px[i] = (x * 7 + seed * 31) & 255;
      px[i + 1] = (y * 5 + seed * 17) & 255;
      px[i + 2] = ((x + y) * 3 + seed) & 255;
    }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
}

/** A multipart/form-data body of files `{ field, name, data }`. */
export function multipart(files: { field?: string; name: string; data: Buffer | string; type?: string }[]): {
  payload: Buffer;
  headers: Record<string, string>;
} {
  const boundary = `----advlens${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const f of files) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\ncontent-disposition: form-data; name="${f.field ?? 'file'}"; filename="${f.name}"\r\ncontent-type: ${f.type ?? 'application/octet-stream'}\r\n\r\n`,
      ),
      Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data),
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    payload: Buffer.concat(parts),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

/** Uploads images; answers the response. */
export function upload(
  app: FastifyInstance,
  files: { name: string; data: Buffer | string }[],
): Promise<LightMyRequestResponse> {
  const m = multipart(files);
  return app.inject({ method: 'POST', url: '/api/images', ...m });
}

/** POSTs a JSON job. */
export function postJob(app: FastifyInstance, body: unknown, ip?: string): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/api/jobs',
    payload: body as object,
    ...(ip && { remoteAddress: ip }),
  });
}

/** Polls job `id` until it is no longer queued or running (or `ms` pass). */
export async function waitJob(app: FastifyInstance, id: string, ms = 60000): Promise<Record<string, any>> {
  const t0 = Date.now();
  for (;;) {
    const j = (await app.inject({ method: 'GET', url: `/api/jobs/${id}` })).json();
    if (j.state !== 'queued' && j.state !== 'running') return j;
    if (Date.now() - t0 > ms) throw new Error(`job ${id} still ${j.state} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Asserts an error answer: the status, JSON `{ error }` of one line, no stack. */
export function errorOf(r: LightMyRequestResponse): string {
  const body = r.json() as { error?: unknown };
  if (typeof body.error !== 'string') throw new Error(`no error message in ${r.body.slice(0, 200)}`);
  if (
    body.error.includes('\n') ||
    /\bat .*:\d+:\d+/.test(body.error) ||
    /node_modules|\.ts:\d/.test(body.error)
  )
    throw new Error(`the error looks like a stack trace: ${body.error}`);
  return body.error;
}
