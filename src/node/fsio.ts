import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../errors.ts';
import { checkOutputFile } from './outputPath.ts';

/**
 * Writes `data` to `file` atomically: to a temporary name beside it, then a rename, so a crash or an
 * error never leaves a half-written file under the final name.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  checkOutputFile(file, 'output file');
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Largest JSON file advlens reads (model.json, cards, labels): far above any real one. */
export const MAX_JSON_BYTES = 64 * 1024 * 1024;

/**
 * Reads and parses a JSON file, with a one-line {@link UserError} for a missing, non-regular,
 * oversized (over `maxBytes`) or malformed file.
 */
export function readJson<T = unknown>(file: string, what = 'file', maxBytes = MAX_JSON_BYTES): T {
  const text = readBounded(file, what, maxBytes).toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new UserError(
      `${what} ${file} is not valid JSON (${(e as Error).message}); re-create or re-download it`,
    );
  }
}

/**
 * Reads a regular file of at most `maxBytes` bytes (checked with stat before reading, and the read
 * itself stops there): a device, a fifo, a folder or a symbolic-link loop is refused, so a hostile
 * path such as /dev/zero cannot make advlens read without bound.
 */
export function readBounded(file: string, what: string, maxBytes: number): Buffer {
  const st = statRegular(file, what);
  if (st.size > maxBytes)
    throw new UserError(
      `${what} ${file} is ${st.size} bytes, more than the ${maxBytes} advlens reads; check the file`,
    );
  return readAtMost(file, st.size);
}

/** stat() of a regular file, or a one-line {@link UserError} saying what it is instead. */
export function statRegular(file: string, what: string): fs.Stats {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP')
      throw new UserError(`${what} ${file} is a symbolic link that loops back on itself; fix the link`);
    if (code === 'ENOENT') throw new UserError(`${what} not found: ${file}`);
    throw new UserError(`cannot read ${what} ${file} (${code ?? (e as Error).message})`);
  }
  if (!st.isFile())
    throw new UserError(
      `${what} ${file} is ${st.isDirectory() ? 'a folder' : 'not a regular file (a device, fifo or socket)'}; give a file`,
    );
  return st;
}

/** Reads at most `n` bytes from the start of `file` (fewer if it is shorter). */
function readAtMost(file: string, n: number): Buffer {
  const buf = Buffer.alloc(n);
  const fd = fs.openSync(file, 'r');
  let got = 0;
  try {
    while (got < n) {
      const k = fs.readSync(fd, buf, got, n - got, got);
      if (k === 0) break;
      got += k;
    }
  } finally {
    fs.closeSync(fd);
  }
  return got === n ? buf : buf.subarray(0, got);
}

const DTYPES = new Set(['float32', 'int32', 'bool', 'complex64']);

/**
 * Checks a weights manifest (untrusted) and returns its weight specs and the total bytes they
 * declare: groups with `paths` (strings) and `weights` (name, dtype, shape of whole numbers).
 */
export function checkManifest(
  manifest: unknown,
  jsonPath: string,
): { specs: tf.io.WeightsManifestEntry[]; paths: string[]; bytes: number } {
  const bad = (what: string): never => {
    throw new UserError(`${jsonPath}: ${what} in weightsManifest; re-download or re-convert the model`);
  };
  if (!Array.isArray(manifest)) bad('not a list of groups');
  const specs: tf.io.WeightsManifestEntry[] = [];
  const paths: string[] = [];
  let bytes = 0;
  for (const g of manifest as unknown[]) {
    const group = g as { paths?: unknown; weights?: unknown };
    if (!group || typeof group !== 'object' || !Array.isArray(group.paths) || !Array.isArray(group.weights))
      bad('a group without paths and weights lists');
    for (const p of group.paths as unknown[]) {
      if (typeof p !== 'string' || p === '')
        bad(`a path ${JSON.stringify(p)?.slice(0, 40)} that is not a file name`);
      paths.push(p as string);
    }
    for (const w of group.weights as unknown[]) {
      const e = w as tf.io.WeightsManifestEntry;
      if (!e || typeof e !== 'object' || typeof e.name !== 'string') bad('a weight without a name');
      if (!DTYPES.has(e.dtype)) bad(`weight '${e.name}' of dtype ${JSON.stringify(e.dtype)?.slice(0, 20)}`);
      if (
        !Array.isArray(e.shape) ||
        e.shape.length > 8 ||
        !e.shape.every((d) => Number.isInteger(d) && d >= 0)
      )
        bad(`weight '${e.name}' with shape ${JSON.stringify(e.shape)?.slice(0, 40)}`);
      const q = e.quantization as { dtype?: unknown } | undefined;
      if (
        q !== undefined &&
        (typeof q !== 'object' || !['uint8', 'uint16', 'float16', 'int8'].includes(q?.dtype as string))
      )
        bad(`weight '${e.name}' with quantization ${JSON.stringify(q)?.slice(0, 40)}`);
      bytes += e.shape.reduce((a, b) => a * b, 1) * bytesPer(e.dtype, e.quantization);
      if (!Number.isSafeInteger(bytes)) bad(`weights declaring more than ${Number.MAX_SAFE_INTEGER} bytes`);
      specs.push(e);
    }
  }
  return { specs, paths, bytes };
}

/**
 * The weight file `p` of a manifest, resolved inside the model folder `dir`: a relative path that
 * stays in the folder, also after symbolic links are followed, naming a regular file. Anything else
 * (`../../etc/passwd`, `/dev/zero`, a link out of the folder) is a one-line {@link UserError}.
 */
export function weightFile(dir: string, p: string, jsonPath: string): { file: string; size: number } {
  const out = () =>
    new UserError(
      `${jsonPath} lists weight file '${p.slice(0, 80)}', which is outside the model folder; a model's weights must sit in its folder (untrusted model?)`,
    );
  if (path.isAbsolute(p) || p.includes('\0')) throw out();
  const root = path.resolve(dir);
  const file = path.resolve(root, p);
  const inside = (f: string, r: string) => f.startsWith(r + path.sep);
  if (!inside(file, root)) throw out();
  if (!fs.existsSync(file) && !isLink(file))
    throw new UserError(`weight file ${file} listed in ${jsonPath} is missing; re-copy the model`);
  let realRoot = root;
  try {
    realRoot = fs.realpathSync(root);
  } catch {
    /* the folder was read a moment ago; keep its plain path */
  }
  let realFile: string | undefined;
  try {
    realFile = fs.realpathSync(file);
  } catch {
    /* a dangling link or a loop: statRegular says which */
  }
  if (realFile !== undefined && !inside(realFile, realRoot)) throw out();
  const st = statRegular(file, 'weight file');
  return { file, size: st.size };
}

/**
 * A tfjs IOHandler for a model folder in the standard format: `model.json` plus weight shards.
 * Loading checks the manifest (see {@link checkManifest}, {@link weightFile}) and reads no more
 * bytes than it declares; saving writes `model.json` and one `weights.bin`, each atomically.
 */
export function fileHandler(dir: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonPath = path.join(dir, 'model.json');
      const json = readJson<tf.io.ModelJSON>(jsonPath, 'model file');
      if (
        !json ||
        typeof json !== 'object' ||
        !json.modelTopology ||
        typeof json.modelTopology !== 'object'
      ) {
        throw new UserError(`${jsonPath} is not a TensorFlow.js model (no modelTopology/weightsManifest)`);
      }
      const { specs, paths, bytes: need } = checkManifest(json.weightsManifest, jsonPath);
      const files = paths.map((p) => weightFile(dir, p, jsonPath));
      const have = files.reduce((s, f) => s + f.size, 0);
      if (have < need) {
        throw new UserError(
          `weights of ${jsonPath} are truncated (${have} of ${need} bytes); re-copy the model`,
        );
      }
      // Read exactly the declared bytes, shard by shard, into one buffer (trailing bytes are ignored).
      const data = new Uint8Array(need);
      let at = 0;
      for (const f of files) {
        if (at >= need) break;
        const b = readAtMost(f.file, Math.min(f.size, need - at));
        data.set(b, at);
        at += b.length;
      }
      if (at < need)
        throw new UserError(
          `weights of ${jsonPath} are truncated (${at} of ${need} bytes); re-copy the model`,
        );
      return tf.io.getModelArtifactsForJSON({ ...json, weightsManifest: json.weightsManifest }, async () => [
        specs,
        data.buffer,
      ]);
    },
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      fs.mkdirSync(dir, { recursive: true });
      const weightData = artifacts.weightData
        ? tf.io.CompositeArrayBuffer.join(artifacts.weightData as ArrayBuffer | ArrayBuffer[])
        : new ArrayBuffer(0);
      const manifest: tf.io.WeightsManifestConfig = [
        { paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] },
      ];
      const json: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: manifest,
      };
      if (artifacts.signature) json.signature = artifacts.signature;
      if (artifacts.userDefinedMetadata) json.userDefinedMetadata = artifacts.userDefinedMetadata;
      writeFileAtomic(path.join(dir, 'weights.bin'), new Uint8Array(weightData));
      writeFileAtomic(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function bytesPer(dtype: string, q?: { dtype?: string }): number {
  if (q?.dtype) return q.dtype === 'uint8' || q.dtype === 'int8' ? 1 : 2;
  return dtype === 'bool' ? 1 : dtype === 'complex64' ? 8 : 4;
}
