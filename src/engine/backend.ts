import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { UserError } from '../errors.ts';
import { registerWasmKernels } from './kernels/index.ts';
import { installTypedArrayTidy } from './tidyResult.ts';
import { loadWinograd, winogradInPlace, winogradReady } from './kernels/winograd.ts';
import { BACKENDS, type BackendName } from './backendNames.ts';

export { BACKENDS, type BackendName };

/** Options of `useBackend`: where the wasm files are, and how to load tfjs-node for the tensorflow backend. */
export interface BackendOptions {
  /** Folder (or URL prefix) holding the `tfjs-backend-wasm*.wasm` files, ending in '/'. */
  wasmPath?: string;
  /** Loads the tfjs-node package when `tensorflow` is asked for (the Node adapter supplies it). */
  loadTensorflow?: () => Promise<unknown>;
}

let registered: string[] | null = null;

/**
 * Selects and initialises a TensorFlow.js backend, and registers on `wasm` the kernels the project
 * needs that the stock wasm backend lacks. Returns the backend now in use.
 */
export async function useBackend(
  name: BackendName = 'wasm',
  opts: BackendOptions = {},
): Promise<BackendName> {
  if (!BACKENDS.includes(name)) {
    throw new UserError(`unknown backend '${name}'; use one of ${BACKENDS.join(', ')}`);
  }
  installTypedArrayTidy();
  if (name === 'wasm') {
    if (opts.wasmPath && !tf.findBackend('wasm')) setWasmPaths(opts.wasmPath);
    if (registered === null) registered = registerWasmKernels();
  }
  if (name === 'tensorflow' && !tf.findBackendFactory('tensorflow')) {
    if (!opts.loadTensorflow)
      throw new UserError(`backend 'tensorflow' needs @tensorflow/tfjs-node, which runs in Node only`);
    await opts.loadTensorflow();
  }
  const before = processListeners();
  try {
    if (tf.getBackend() !== name || !tf.findBackend(name)) {
      const ok = await tf.setBackend(name);
      if (!ok) throw new UserError(`backend '${name}' failed to initialise here; try the cpu backend`);
    }
    await tf.ready();
  } finally {
    removeAddedListeners(before);
  }
  // The project's WebAssembly kernels, on the backend's memory (kernels before this use fallbacks).
  if (name === 'wasm') await loadWinograd(tf.findBackend('wasm'));
  return tf.getBackend() as BackendName;
}

type Listener = (...args: unknown[]) => void;
interface ProcessLike {
  listeners(event: string): Listener[];
  removeListener(event: string, l: Listener): void;
}
const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'];

/** Node's `process` where there is one (this file also runs in the browser). */
function nodeProcess(): ProcessLike | undefined {
  const p = (globalThis as { process?: Partial<ProcessLike> }).process;
  return typeof p?.listeners === 'function' && typeof p.removeListener === 'function'
    ? (p as ProcessLike)
    : undefined;
}

function processListeners(): Map<string, Listener[]> {
  const p = nodeProcess();
  return new Map(PROCESS_EVENTS.map((e) => [e, p ? p.listeners(e) : []]));
}

/**
 * Removes the process-wide 'uncaughtException' and 'unhandledRejection' handlers that appeared
 * since `before`. The wasm backend's Emscripten module installs both when it starts in Node; they
 * re-throw every error from inside the module's source, so an uncaught error anywhere in a
 * program printed ~30 KB of minified Emscripten code instead of the error. Without them Node
 * reports an uncaught error itself (its stack, exit code 1).
 */
function removeAddedListeners(before: Map<string, Listener[]>): void {
  const p = nodeProcess();
  if (!p) return;
  for (const e of PROCESS_EVENTS) {
    const had = before.get(e) ?? [];
    for (const l of p.listeners(e)) if (!had.includes(l)) p.removeListener(e, l);
  }
}

/** The kernels this project registered on the wasm backend (empty before `useBackend('wasm')`). */
export function registeredKernels(): string[] {
  return registered ? [...registered] : [];
}

/** Facts about the running engine, for `advlens info` and for every result's provenance. */
export function engineInfo(): {
  backend: string;
  tfjsVersion: string;
  simd: boolean | null;
  threads: boolean | null;
  registeredKernels: string[];
  /** The project's WebAssembly kernels (wasm only): on the backend's memory, copying, or not loaded. */
  moduleKernels: 'in place' | 'copying' | 'not loaded' | null;
} {
  const backend = tf.getBackend();
  const flag = (f: string): boolean | null => {
    try {
      return backend === 'wasm' ? tf.env().getBool(f) : null;
    } catch {
      return null;
    }
  };
  return {
    backend,
    tfjsVersion: tf.version_core,
    simd: flag('WASM_HAS_SIMD_SUPPORT'),
    threads: flag('WASM_HAS_MULTITHREAD_SUPPORT'),
    registeredKernels: registeredKernels(),
    moduleKernels:
      backend !== 'wasm'
        ? null
        : !winogradReady()
          ? 'not loaded'
          : winogradInPlace()
            ? 'in place'
            : 'copying',
  };
}
