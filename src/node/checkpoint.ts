import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { CheckpointStore, TrainState } from '../train/loop.ts';
import { UserError } from '../errors.ts';
import { fileHandler, readJson, writeFileAtomic } from './fsio.ts';

/**
 * Checkpoints in `<dir>/checkpoint/`: the model (standard tfjs format), the optimiser's slots
 * (`optimizer.bin` + `optimizer.json`) and the run state (`state.json`). A new checkpoint is written
 * beside the old one and swapped in by renames, so an interruption leaves the last whole one.
 */
export function folderCheckpoint(dir: string): CheckpointStore {
  const final = path.join(dir, 'checkpoint');
  return {
    async save(c, optimizer, state) {
      if (!(c.model instanceof tfl.LayersModel)) throw new Error('only layers models are checkpointed');
      const tmp = `${final}.tmp`;
      fs.rmSync(tmp, { recursive: true, force: true });
      fs.mkdirSync(tmp, { recursive: true });
      await c.model.save(fileHandler(tmp));
      const named = await optimizer.getWeights();
      const { data, specs } = await tf.io.encodeWeights(named);
      writeFileAtomic(path.join(tmp, 'optimizer.bin'), new Uint8Array(tf.io.CompositeArrayBuffer.join(data)));
      writeFileAtomic(path.join(tmp, 'optimizer.json'), JSON.stringify(specs));
      writeFileAtomic(path.join(tmp, 'state.json'), JSON.stringify(state, null, 1));
      const old = `${final}.old`;
      fs.rmSync(old, { recursive: true, force: true });
      if (fs.existsSync(final)) fs.renameSync(final, old);
      fs.renameSync(tmp, final);
      fs.rmSync(old, { recursive: true, force: true });
    },
    async load(c, optimizer) {
      if (!fs.existsSync(path.join(final, 'state.json'))) return null;
      const state = readJson<TrainState>(path.join(final, 'state.json'), 'checkpoint state');
      const saved = await tfl.loadLayersModel(fileHandler(final));
      const model = c.model as tfl.LayersModel;
      if (saved.weights.length !== model.weights.length) {
        throw new UserError(
          `the checkpoint in ${final} is of another architecture; resume with the same architecture, or start afresh without resuming`,
        );
      }
      model.setWeights(saved.getWeights());
      saved.dispose();
      const specs = readJson<tf.io.WeightsManifestEntry[]>(
        path.join(final, 'optimizer.json'),
        'checkpoint optimizer',
      );
      const buf = fs.readFileSync(path.join(final, 'optimizer.bin'));
      const map = tf.io.decodeWeights(
        buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer,
        specs,
      );
      await optimizer.setWeights(specs.map((s) => ({ name: s.name, tensor: map[s.name] })));
      tf.dispose(Object.values(map));
      return state;
    },
  };
}
