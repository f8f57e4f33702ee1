/**
 * The browser's TensorFlow.js setup: the wasm backend with its `.wasm` binaries fetched from where
 * the page serves them (never a CDN), and the project's own wasm kernels registered on it
 * (`engine/kernels`, whose WebAssembly module is embedded in the bundle). `cpu`, `webgl` and
 * `webgpu` work too where the page has imported their backend packages.
 *
 *   await initBrowserBackend({ wasmPaths: '/wasm/' }); // serves /wasm/tfjs-backend-wasm*.wasm
 */
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { engineInfo, useBackend, type BackendName } from '../engine/backend.ts';
import { UserError } from '../errors.ts';

/** The three binaries of `@tensorflow/tfjs-backend-wasm`; the backend picks one by what the browser supports. */
export const WASM_BINARIES = [
  'tfjs-backend-wasm.wasm',
  'tfjs-backend-wasm-simd.wasm',
  'tfjs-backend-wasm-threaded-simd.wasm',
] as const;

/**
 * Where the page serves the wasm binaries: a URL prefix ending in '/' that holds all three, or one
 * URL per binary (for example Vite's `?url` imports). Relative URLs are taken against the page.
 */
export type WasmPaths = string | Record<(typeof WASM_BINARIES)[number], string>;

/** Options of {@link initBrowserBackend}. */
export interface BrowserBackendOptions {
  /** Backend to run on (default 'wasm'). */
  backend?: BackendName;
  /** Where the wasm binaries are served; required for 'wasm' (a bundler does not serve them by itself). */
  wasmPaths?: WasmPaths;
}

/** Resolves `paths` against `base` (the page's URL), so that a Web Worker fetches the same files. */
export function absoluteWasmPaths(paths: WasmPaths, base: string): WasmPaths {
  if (typeof paths === 'string') {
    if (!paths.endsWith('/'))
      throw new UserError(
        `wasmPaths '${paths}' must end in '/' (a folder holding ${WASM_BINARIES.join(', ')})`,
      );
    return new URL(paths, base).href;
  }
  const missing = WASM_BINARIES.filter((b) => typeof paths[b] !== 'string');
  if (missing.length)
    throw new UserError(
      `wasmPaths lacks ${missing.join(', ')}; give a URL for each of the three binaries, or one folder`,
    );
  return Object.fromEntries(WASM_BINARIES.map((b) => [b, new URL(paths[b], base).href])) as WasmPaths;
}

let pathsSet = false;

/**
 * Selects and initialises the backend in this page or worker (the wasm binaries from `wasmPaths`,
 * with the project's kernels registered) and returns the engine's facts, `registeredKernels` among
 * them. Calling it again with another backend switches; the wasm paths can be set only once.
 */
export async function initBrowserBackend(
  opts: BrowserBackendOptions = {},
): Promise<ReturnType<typeof engineInfo>> {
  const name = opts.backend ?? 'wasm';
  if (name === 'wasm' && !pathsSet) {
    if (!opts.wasmPaths)
      throw new UserError(
        `the wasm backend needs wasmPaths: the URL folder (or one URL each) where the page serves ${WASM_BINARIES.join(', ')} from @tensorflow/tfjs-backend-wasm/dist`,
      );
    setWasmPaths(absoluteWasmPaths(opts.wasmPaths, globalThis.location?.href ?? 'http://localhost/'));
    pathsSet = true;
  }
  await useBackend(name);
  return engineInfo();
}
