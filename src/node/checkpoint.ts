import fs from 'node:fs';
import path from 'node:path';
import type { CheckpointStore, TrainState } from '../train/state.ts';
import {
  applyCheckpoint,
  checkpointLayout,
  CHECKPOINT_FILES,
  damaged,
  decodeCheckpoint,
  encodeCheckpoint,
  parseTrainState,
  type CheckpointFiles,
  type CheckpointLayout,
} from '../train/checkpointFormat.ts';
import { fsyncDir, readFileBounded, writeFileDurable } from './durableFile.ts';

/** The checkpoint folder of a run writing `dir`. */
export const checkpointDir = (dir: string): string => path.join(dir, 'checkpoint');

/**
 * Checkpoints in `<dir>/checkpoint/` (files: see src/train/checkpointFormat.ts). A new generation is
 * written whole into `checkpoint.tmp/` and flushed to the disk, then published by two renames
 * (`checkpoint` -> `checkpoint.old`, `checkpoint.tmp` -> `checkpoint`); a kill at any moment leaves
 * either the previous generation or the new one, and {@link recoverCheckpoint} finds it.
 */
export function folderCheckpoint(dir: string): CheckpointStore {
  const final = checkpointDir(dir);
  return {
    async save(c, optimizer, state) {
      const files = await encodeCheckpoint(c, optimizer, state);
      recoverCheckpoint(dir);
      const tmp = `${final}.tmp`;
      const old = `${final}.old`;
      fs.rmSync(tmp, { recursive: true, force: true });
      fs.mkdirSync(tmp, { recursive: true });
      for (const name of CHECKPOINT_FILES) writeFileDurable(path.join(tmp, name), files[name]);
      fsyncDir(tmp);
      // After recovery, `old` exists only beside a whole `final`: removing it loses nothing.
      fs.rmSync(old, { recursive: true, force: true });
      if (fs.existsSync(final)) fs.renameSync(final, old);
      fs.renameSync(tmp, final);
      fsyncDir(dir);
      fs.rmSync(old, { recursive: true, force: true });
    },
    async load(c, optimizer) {
      if (!recoverCheckpoint(dir)) return null;
      const layout = checkpointLayout(c, optimizer);
      const decoded = decodeCheckpoint(readCheckpointFiles(final, layout), layout, final);
      await applyCheckpoint(c, optimizer, decoded);
      return decoded.state;
    },
  };
}

/**
 * Brings back the last whole generation after a kill between the two renames of a save (only
 * `checkpoint.old` left) and says whether there is a checkpoint.
 */
export function recoverCheckpoint(dir: string): boolean {
  const final = checkpointDir(dir);
  if (fs.existsSync(final)) return true;
  if (!fs.existsSync(`${final}.old`)) return false;
  fs.renameSync(`${final}.old`, final);
  fsyncDir(dir);
  return true;
}

/** The state of the checkpoint in `dir` (after recovery), or null when there is none. */
export function readCheckpointState(dir: string): TrainState | null {
  if (!recoverCheckpoint(dir)) return null;
  const final = checkpointDir(dir);
  return parseTrainState(readBounded(final, 'state.json', STATE_MAX), final);
}

/** Removes a run's checkpoint (all generations); a kill midway leaves none or a whole one. */
export function removeCheckpoint(dir: string): void {
  const final = checkpointDir(dir);
  const trash = `${final}.trash`;
  fs.rmSync(trash, { recursive: true, force: true });
  if (fs.existsSync(final)) {
    fs.renameSync(final, trash);
    fsyncDir(dir);
  }
  for (const d of [`${final}.old`, `${final}.tmp`, trash]) fs.rmSync(d, { recursive: true, force: true });
}

/** Upper bound of `state.json` and of the two manifests (a run's history of many epochs fits easily). */
const STATE_MAX = 16 << 20;

function readBounded(folder: string, name: string, max: number): Uint8Array {
  const file = path.join(folder, name);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw damaged(folder, `${name} is missing`);
  }
  if (!stat.isFile()) throw damaged(folder, `${name} is not a file`);
  const r = readFileBounded(file, max);
  if (!(r instanceof Uint8Array))
    throw damaged(folder, `${name} holds ${r.size} bytes where at most ${max} are expected`);
  return r;
}

/**
 * Reads a checkpoint's files, each bounded by what `layout` allows (the weight files by the size
 * their shapes give, so a damaged file is never read past that).
 */
export function readCheckpointFiles(folder: string, layout: CheckpointLayout): CheckpointFiles {
  const values = (shapes: number[][]) => shapes.reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
  const weightBytes = 4 * values(layout.weights);
  const optimizerBytes = 4 * (3 + layout.slots * values(layout.trainable)); // + the step count and Adam's two powers
  return {
    'state.json': readBounded(folder, 'state.json', STATE_MAX),
    'model.json': readBounded(folder, 'model.json', STATE_MAX),
    'weights.bin': readBounded(folder, 'weights.bin', weightBytes),
    'optimizer.json': readBounded(folder, 'optimizer.json', STATE_MAX),
    'optimizer.bin': readBounded(folder, 'optimizer.bin', optimizerBytes),
  };
}
