import { createRequire } from 'node:module';
import path from 'node:path';
import v8 from 'node:v8';
import { useBackend, type BackendName } from '../engine/backend.ts';
import { relaxedSimdAvailable, setWinogradFma } from '../engine/kernels/winograd.ts';
import { UserError } from '../errors.ts';

const require = createRequire(import.meta.url);

/**
 * The project's wasm kernels with fused multiply-adds (relaxed SIMD) unless ADVLENS_FMA=0: Node 20's
 * V8 has relaxed SIMD behind --experimental-wasm-relaxed-simd, set here (process-wide, before the
 * module is compiled) where the engine does not validate it already (Node 22 and later ship it).
 */
function relaxedSimd(): void {
  if (process.env.ADVLENS_FMA === '0') {
    setWinogradFma(false);
    return;
  }
  if (!relaxedSimdAvailable()) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
}

/**
 * Node's backend setup: finds the wasm binaries in node_modules, turns on relaxed SIMD for the
 * project's kernels (ADVLENS_FMA=0: off) and loads tfjs-node on request.
 */
export async function initNodeBackend(name: BackendName = 'wasm'): Promise<BackendName> {
  relaxedSimd();
  const wasmFile = require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm');
  return useBackend(name, {
    wasmPath: path.dirname(wasmFile) + path.sep,
    loadTensorflow: async () => {
      try {
        const mod = '@tensorflow/tfjs-node';
        await import(mod);
      } catch {
        throw new UserError(
          `backend 'tensorflow' needs @tensorflow/tfjs-node: run 'npm install @tensorflow/tfjs-node' where it can download libtensorflow, or use the wasm backend`,
        );
      }
    },
  });
}
