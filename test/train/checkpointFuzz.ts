/**
 * The checkpoint loader's fuzz target (issue 15, "parsers fuzzed"): a whole checkpoint of a tiny
 * model trained one step with Adam, mutated by fast-check (truncated, bytes flipped or inserted,
 * JSON values replaced, files swapped or replaced by noise), then decoded and, when it decodes,
 * restored into a fresh model and optimiser. Each input must either load or be refused with the
 * project's UserError; any other error, or a leaked tensor, fails the property.
 *
 * `fuzzCheckpointLoader(runs)` is what `npm test` runs a few hundred times and `npm run fuzz`
 * 10,000 times; it returns how many inputs loaded and how many were refused.
 */
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { UserError } from '../../src/errors.ts';
import {
  applyCheckpoint,
  checkpointLayout,
  CHECKPOINT_FILES,
  decodeCheckpoint,
  encodeCheckpoint,
  type CheckpointFiles,
} from '../../src/train/checkpointFormat.ts';
import { disposeOptimizer, makeOptimizer } from '../../src/train/optimizer.ts';
import { tinyGapCnn } from './tinyGapCnn.ts';

type FileName = keyof CheckpointFiles;

/** A valid checkpoint to mutate: a tiny model after one Adam step, its state after one epoch. */
export async function seedCheckpoint(): Promise<CheckpointFiles> {
  const c = tinyGapCnn(4);
  const opt = makeOptimizer({ optimizer: 'adam', lr: 0.01, momentum: 0 });
  const x = tf.randomUniform([4, 8, 8, 1], 0, 1, 'float32', 7);
  opt.minimize(
    () => tf.mean(tf.square(c.logits(x as tf.Tensor4D))) as tf.Scalar,
    false,
    c.trainableVariables(),
  );
  x.dispose();
  const files = await encodeCheckpoint(c, opt, {
    epochsDone: 1,
    history: [{ epoch: 1, loss: 0.5, accuracy: 0.75, lr: 0.01, seconds: 1.5 }],
    wallTimeSec: 1.5,
    recipeKey: '["normal",{},4,"adam",1,"toy",4]',
  });
  disposeOptimizer(opt);
  c.model.dispose();
  return files;
}

/**
 * Loads `files` as `folderCheckpoint` does after reading them: decode against a fresh model's
 * layout, then restore. Resolves 'loaded' or 'refused' (a UserError); anything else rejects.
 */
export async function loadCheckpointTarget(files: CheckpointFiles): Promise<'loaded' | 'refused'> {
  const before = tf.memory().numTensors;
  const c = tinyGapCnn(9);
  const opt = makeOptimizer({ optimizer: 'adam', lr: 0.01, momentum: 0 });
  try {
    const decoded = decodeCheckpoint(files, checkpointLayout(c, opt), 'fuzz/checkpoint');
    await applyCheckpoint(c, opt, decoded);
    return 'loaded';
  } catch (e) {
    if (e instanceof UserError && !e.message.includes('\n')) return 'refused';
    throw e;
  } finally {
    disposeOptimizer(opt);
    c.model.dispose();
    if (tf.memory().numTensors !== before)
      throw new Error(`leaked ${tf.memory().numTensors - before} tensors`);
  }
}

const text = new TextDecoder();
const bytes = (s: string) => new TextEncoder().encode(s);

/** Replaces the value at a random path of a JSON document by `value`. */
function replaceInJson(doc: unknown, pick: number, value: unknown): unknown {
  const slots: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => (slots.push({ parent: v, key: i }), walk(x)));
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v))
        (slots.push({ parent: v as Record<string, unknown>, key: k }), walk(x));
  };
  walk(doc);
  if (slots.length === 0) return value;
  const s = slots[pick % slots.length];
  (s.parent as Record<string | number, unknown>)[s.key] = value;
  return doc;
}

/** One mutation of one file. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), data: fc.uint8Array({ maxLength: 16 }) }),
  fc.record({ kind: fc.constant('noise' as const), data: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ kind: fc.constant('json' as const), pick: fc.nat(), value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ kind: fc.constant('swap' as const), with: fc.constantFrom(...CHECKPOINT_FILES) }),
);

/** Applies `m` to file `name` of `files` (a copy). */
function mutate(
  files: CheckpointFiles,
  name: FileName,
  m: typeof mutation extends fc.Arbitrary<infer T> ? T : never,
) {
  const out = { ...files };
  const b = files[name];
  if (m.kind === 'truncate') out[name] = b.slice(0, b.length === 0 ? 0 : m.at % b.length);
  else if (m.kind === 'flip') {
    const c = b.slice();
    for (const [at, v] of m.at) if (c.length) c[at % c.length] = v;
    out[name] = c;
  } else if (m.kind === 'insert') {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    out[name] = new Uint8Array([...b.subarray(0, at), ...m.data, ...b.subarray(at)]);
  } else if (m.kind === 'noise') out[name] = m.data;
  else if (m.kind === 'swap') out[name] = files[m.with];
  else {
    let doc: unknown;
    try {
      doc = JSON.parse(text.decode(b));
    } catch {
      return out; // a binary file: JSON mutations do not apply
    }
    out[name] = bytes(JSON.stringify(replaceInJson(doc, m.pick, m.value)));
  }
  return out;
}

/** Mutated checkpoints: one to three mutations, each of one file. */
export const mutatedCheckpoint = (seed: CheckpointFiles) =>
  fc
    .array(fc.tuple(fc.constantFrom(...CHECKPOINT_FILES), mutation), { minLength: 1, maxLength: 3 })
    .map((ms) => ms.reduce((f, [name, m]) => mutate(f, name, m), seed));

/** Runs the loader on `runs` mutated checkpoints; throws (fast-check's report) on the first failure. */
export async function fuzzCheckpointLoader(
  runs: number,
  seed = 15,
): Promise<{ loaded: number; refused: number }> {
  const files = await seedCheckpoint();
  const counts = { loaded: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(mutatedCheckpoint(files), async (f) => {
      counts[await loadCheckpointTarget(f)]++;
    }),
    { numRuns: runs, seed },
  );
  return counts;
}
