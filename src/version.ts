import * as tf from '@tensorflow/tfjs-core';
import { VERSION } from './packageVersion.ts';
import { winogradFma, winogradNative, winogradReady } from './engine/kernels/winograd.ts';
import { nativeStatus } from './engine/kernels/native.ts';

/** advlens's own version (package.json's, written in src/packageVersion.ts). */
export { VERSION };

/**
 * Software versions recorded in every card and result; on wasm also which build of the project's
 * kernels ran (`kernels`: 'simd', or 'simd+fma' for the fused multiply-add build, whose results
 * differ from the plain build's by float rounding; absent before the module has loaded), and
 * whether they ran as the WebAssembly module or the native addon built for this processor
 * (`kernelsBuild`: 'wasm', or 'native' with the processor features it was built for; the same bits).
 */
export function versions(): Record<string, string> {
  const v: Record<string, string> = {
    advlens: VERSION,
    tfjs: tf.version_core,
    backend: tf.getBackend() ?? 'none',
  };
  if (v.backend === 'wasm' && winogradReady()) {
    v.kernels = winogradFma() ? 'simd+fma' : 'simd';
    const features = nativeStatus().build?.features ?? [];
    v.kernelsBuild = winogradNative() ? `native ${features.join(' ')}`.trim() : 'wasm';
  }
  if (typeof process !== 'undefined' && process.versions?.node) v.node = process.versions.node;
  return v;
}
