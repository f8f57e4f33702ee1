/**
 * The project's C kernels as a native Node-API addon (scripts/build-native.mjs, run at install where
 * clang and Node's headers are found): the same sources as the WebAssembly module, compiled for this
 * machine's processor, so that they use its full vector width (AVX-512 where WebAssembly SIMD has 4
 * lanes) on the wasm backend's memory, in place. Every output is bit for bit the module's (same
 * operations lane by lane; test/engine/native.test.ts). Node only: in a browser, or where the addon
 * was not built, does not load, or was built for features this processor lacks, {@link nativeAddons}
 * is null and the WebAssembly module runs. `ADVLENS_NATIVE=0` switches it off.
 */

/** An addon's functions: each takes the memory's ArrayBuffer, then the module export's arguments. */
export type NativeAddon = Record<string, (buffer: ArrayBuffer, ...args: number[]) => number | undefined>;

export interface NativeStatus {
  /** Whether the addons are loaded and usable. */
  loaded: boolean;
  /** Why not, when not. */
  reason?: string;
  /** native/build/build.json: compiler, -march, processor features, functions. */
  build?: { compiler: string; march: string; features: string[]; exports: number; sources?: string };
}

let cached: { plain: NativeAddon; fma: NativeAddon } | null | undefined;
let status: NativeStatus = { loaded: false, reason: 'not tried yet' };

interface NodeProcess {
  env?: Record<string, string | undefined>;
  versions?: { node?: string };
  getBuiltinModule?: (name: string) => unknown;
}

/** The two native builds (plain and fused multiply-add), or null where they cannot be had here. */
export function nativeAddons(): { plain: NativeAddon; fma: NativeAddon } | null {
  if (cached !== undefined) return cached;
  cached = null;
  const proc = (globalThis as { process?: NodeProcess }).process;
  if (!proc?.versions?.node) return note('not Node');
  if (proc.env?.ADVLENS_NATIVE === '0') return note('ADVLENS_NATIVE=0');
  const mod = proc.getBuiltinModule?.('module') as
    { createRequire(url: string | URL): (id: string) => unknown } | undefined;
  if (!mod) return note('this Node has no process.getBuiltinModule (Node 20.16 or later)');
  const require = mod.createRequire(import.meta.url);
  // src/engine/kernels/ and dist/engine/kernels/ are both three levels below the package's root;
  // ADVLENS_NATIVE_DIR: a build elsewhere (an absolute folder: tests of another -march).
  const url = require('node:url') as { pathToFileURL(p: string): URL; fileURLToPath(u: URL): string };
  const other = proc.env?.ADVLENS_NATIVE_DIR;
  const dir = other
    ? url.pathToFileURL(other.endsWith('/') ? other : other + '/')
    : new URL(/* @vite-ignore */ '../../../native/build/', import.meta.url);
  let build: NativeStatus['build'];
  const fs = require('node:fs') as {
    readFileSync(p: URL, enc?: 'utf8'): string | Uint8Array;
    readdirSync(p: URL): string[];
  };
  try {
    build = JSON.parse(
      fs.readFileSync(new URL('build.json', dir), 'utf8') as string,
    ) as NativeStatus['build'];
  } catch {
    return note('not built (npm run build:native; needs clang and Node headers)');
  }
  // A build of other sources than these (edited since) would not give the module's bits: refused.
  const now = sourcesHash(require, fs);
  if (now && build?.sources !== now)
    return note('built from other sources than these: run npm run build:native', build);
  try {
    const load = (f: string) =>
      require(url.fileURLToPath(new URL(f, dir))) as NativeAddon & { missing?: string };
    const plain = load('advlens-plain.node');
    const fma = load('advlens-fma.node');
    const missing = plain.missing ?? fma.missing;
    if (missing) return note(`built for a processor with ${missing}, which this one lacks`, build);
    cached = { plain, fma };
    status = { loaded: true, build };
  } catch (e) {
    return note(`could not load: ${(e as Error).message.split('\n')[0]}`, build);
  }
  return cached;
}

/** SHA-1 of the C sources beside this file, as build-native.mjs hashes them (null where they cannot be read). */
function sourcesHash(
  require: (id: string) => unknown,
  fs: { readFileSync(p: URL): string | Uint8Array; readdirSync(p: URL): string[] },
): string | null {
  try {
    const crypto = require('node:crypto') as {
      createHash(a: string): { update(b: string | Uint8Array): void; digest(e: 'hex'): string };
    };
    const h = crypto.createHash('sha1');
    // From src/engine/kernels/ or dist/engine/kernels/ alike: the package's src/engine/kernels/, every
    // C source and header by name, as build-native.mjs hashes them.
    const dir = new URL(/* @vite-ignore */ '../../../src/engine/kernels/', import.meta.url);
    for (const f of fs
      .readdirSync(dir)
      .filter((f) => /\.[ch]$/.test(f))
      .sort())
      h.update(fs.readFileSync(new URL(f, dir)));
    h.update(fs.readFileSync(new URL(/* @vite-ignore */ '../../../native/wasm_simd128.h', import.meta.url)));
    return h.digest('hex');
  } catch {
    return null;
  }
}

function note(reason: string, build?: NativeStatus['build']): null {
  status = { loaded: false, reason, ...(build ? { build } : {}) };
  return null;
}

/** Records that the loaded addons cannot be used here after all (`reason`), for {@link nativeStatus}. */
export function nativeUnusable(reason: string): void {
  status = { loaded: false, reason, ...(status.build ? { build: status.build } : {}) };
}

/** Whether the native kernels loaded, and why not (after {@link nativeAddons} has run). */
export function nativeStatus(): NativeStatus {
  return status;
}

/** How many times each native function has run in this thread (for tests: which paths a run reached). */
export const nativeCalls: Record<string, number> = {};

/**
 * The module's exports, as the native addon's functions on `memory` (its buffer is read at every
 * call: growing the memory replaces it). `template` supplies what is not a function (the stack
 * pointer global, which the native code does not use).
 */
export function bindNative<T extends object>(addon: NativeAddon, memory: WebAssembly.Memory, template: T): T {
  const out: Record<string, unknown> = {};
  const counts = nativeCalls;
  for (const [name, v] of Object.entries(template)) {
    const f = addon[name];
    if (typeof v !== 'function') out[name] = v;
    else if (typeof f !== 'function')
      throw new Error(`the native kernels lack '${name}': rebuild them (npm run build:native)`);
    else
      out[name] = (...args: number[]) => {
        counts[name] = (counts[name] ?? 0) + 1;
        return f(memory.buffer as ArrayBuffer, ...args);
      };
  }
  return out as T;
}
