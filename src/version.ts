import * as tf from '@tensorflow/tfjs-core';

/**
 * advlens's own version: `version` of package.json, written here rather than imported so the core
 * needs no JSON import (browser bundlers and the compiled package alike); test/package/version.test.ts
 * keeps the two equal.
 */
export const VERSION: string = '0.1.0';

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
