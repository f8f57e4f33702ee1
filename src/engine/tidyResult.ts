/**
 * `tf.tidy(() => t.dataSync())` without walking the values. When a tidy scope ends, the engine looks
 * for tensors in the callback's result to keep (tfjs-core `getTensorsInContainer`): it treats any
 * object as a container and visits every property, adding each value to a Set. A typed array of a
 * 224x224 batch's gradient (1.2 million values) took about 0.4 s per pass that way, four times
 * darknet's gradient itself, in every SmoothGrad and IG pass (src/explain/gradient.ts returns
 * `dataSync()` from its tidy). A typed array cannot hold tensors, so {@link installTypedArrayTidy}
 * ends such scopes as if the callback had returned nothing: the same tensors are disposed and kept.
 */
import * as tf from '@tensorflow/tfjs-core';

interface EngineLike {
  endScope: (result?: unknown) => void;
  advlensTypedArrayTidy?: boolean;
}

/** Wraps the engine's `endScope` once (idempotent): typed-array results are not walked. */
export function installTypedArrayTidy(): void {
  const engine = tf.engine() as unknown as EngineLike;
  if (engine.advlensTypedArrayTidy) return;
  engine.advlensTypedArrayTidy = true;
  const endScope = engine.endScope.bind(engine);
  engine.endScope = (result?: unknown) => endScope(ArrayBuffer.isView(result) ? undefined : result);
}
