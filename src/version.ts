import * as tf from '@tensorflow/tfjs-core';
import { VERSION } from './packageVersion.ts';

/** advlens's own version (package.json's, written in src/packageVersion.ts). */
export { VERSION };

/** Software versions recorded in every card and result. */
export function versions(): Record<string, string> {
  const v: Record<string, string> = {
    advlens: VERSION,
    tfjs: tf.version_core,
    backend: tf.getBackend() ?? 'none',
  };
  if (typeof process !== 'undefined' && process.versions?.node) v.node = process.versions.node;
  return v;
}
