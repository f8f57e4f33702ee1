/**
 * advlens/browser: the browser adapters over the core (`advlens`): the wasm backend with the
 * project's kernels and the binaries served by the page, models over HTTP, image decoding, and a
 * Web Worker runner that keeps long attacks and explanations off the page's thread. Re-exports the
 * core, so a page needs only this entry point (and `advlens/browser/worker` for the worker).
 */
export * from '../index.ts';
export {
  initBrowserBackend,
  absoluteWasmPaths,
  WASM_BINARIES,
  type WasmPaths,
  type BrowserBackendOptions,
} from './backend.ts';
export { loadClassifierFromUrl, modelUrls, type UrlLoadOptions } from './models.ts';
export {
  imagePixels,
  imageTensor,
  stackPixels,
  type ImageSource,
  type Pixels,
  type FitOptions,
} from './image.ts';
export { runAttack, runExplain, type AttackOutput, type ExplainOutput } from './run.ts';
export { createWorkerRunner, type WorkerRunner, type WorkerRunnerOptions, type ModelInfo } from './runner.ts';
