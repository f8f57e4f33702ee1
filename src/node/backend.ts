import { createRequire } from 'node:module';
import path from 'node:path';
import { useBackend, type BackendName } from '../engine/backend.ts';
import { UserError } from '../errors.ts';

const require = createRequire(import.meta.url);

/** Node's backend setup: finds the wasm binaries in node_modules and loads tfjs-node on request. */
export async function initNodeBackend(name: BackendName = 'wasm'): Promise<BackendName> {
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
