import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../errors.ts';

/**
 * Writes `data` to `file` atomically: to a temporary name beside it, then a rename, so a crash or an
 * error never leaves a half-written file under the final name.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
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

/** Reads and parses a JSON file, with a one-line {@link UserError} for a missing or malformed file. */
export function readJson<T = unknown>(file: string, what = 'file'): T {
  if (!fs.existsSync(file)) throw new UserError(`${what} not found: ${file}`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new UserError(
      `${what} ${file} is not valid JSON (${(e as Error).message}); re-create or re-download it`,
    );
  }
}

/**
 * A tfjs IOHandler for a model folder in the standard format: `model.json` plus weight shards.
 * Loading concatenates the shards listed in the manifest; saving writes `model.json` and one
 * `weights.bin`, each atomically.
 */
export function fileHandler(dir: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonPath = path.join(dir, 'model.json');
      const json = readJson<tf.io.ModelJSON>(jsonPath, 'model file');
      if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
        throw new UserError(`${jsonPath} is not a TensorFlow.js model (no modelTopology/weightsManifest)`);
      }
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const f = path.join(dir, p);
            if (!fs.existsSync(f)) throw new UserError(`weight shard ${f} listed in ${jsonPath} is missing`);
            const b = fs.readFileSync(f);
            buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
          }
        }
        const data = tf.io.concatenateArrayBuffers(buffers);
        const need = specs.reduce(
          (s, w) => s + w.shape.reduce((a, b) => a * b, 1) * bytesPer(w.dtype, w.quantization),
          0,
        );
        if (data.byteLength < need) {
          throw new UserError(
            `weights of ${jsonPath} are truncated (${data.byteLength} of ${need} bytes); re-copy the model`,
          );
        }
        return [specs, data];
      });
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

function bytesPer(dtype: string, q?: { dtype?: string }): number {
  if (q?.dtype) return q.dtype === 'uint8' || q.dtype === 'int8' ? 1 : 2;
  return dtype === 'bool' ? 1 : 4;
}
