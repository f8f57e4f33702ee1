import fs from 'node:fs';
import path from 'node:path';
import type { Classifier } from '../models/classifier.ts';
import type { ModelCard } from '../models/card.ts';
import { UserError } from '../errors.ts';
import { checkpointDir, readCheckpointState, removeCheckpoint } from './checkpoint.ts';
import { fsyncDir, fsyncFile } from './durableFile.ts';
import { lockFolder } from './folderLock.ts';
import { CARD_FILE, saveClassifier } from './models.ts';

/** The output folder of a training run, locked for it (see {@link prepareTrainOutput}). */
export interface TrainOutput {
  dir: string;
  /**
   * Set when there is nothing to do: `resume` on a run that finished (its model and card saved, no
   * checkpoint left). The message says so; the folder is not locked and nothing was written.
   */
  finished: string | null;
  /** Epochs the checkpoint holds when resuming (0 for a new run). */
  resumeFrom: number;
  /**
   * Saves the trained model and its card, flushed to the disk, then removes the checkpoint and
   * releases the lock. Until the checkpoint is gone a kill leaves it, and a resume saves again.
   */
  save(c: Classifier, card: ModelCard): Promise<void>;
  /** Releases the lock without saving (also done when the process exits). */
  release(): void;
}

/**
 * Prepares `dir` for a training run before any work starts: refuses a file, locks the folder
 * against a second run, and checks what it holds. A new run (no `resume`) refuses a folder with a
 * model (model.json or a card) or an unfinished run's checkpoint unless `force`; `resume` needs a
 * checkpoint (whole, of at most `epochs` epochs), or reports a finished run as `finished`.
 */
export function prepareTrainOutput(
  dir: string,
  o: { resume?: boolean; force?: boolean; epochs: number },
): TrainOutput {
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory())
    throw new UserError(`the output ${dir} is a file; give a folder`);
  const created = !fs.existsSync(dir);
  fs.mkdirSync(dir, { recursive: true });
  const lock = lockFolder(dir);
  const release = () => {
    process.off('exit', release);
    lock.release();
    if (!created) return;
    try {
      fs.rmdirSync(dir); // only if the run left it empty
    } catch {
      // it holds something: keep it
    }
  };
  process.on('exit', release); // a run that fails leaves no empty folder it created
  try {
    const ckpt = checkpointDir(dir);
    const hasCheckpoint = fs.existsSync(ckpt) || fs.existsSync(`${ckpt}.old`);
    const model = [CARD_FILE, 'model.json'].find((f) => fs.existsSync(path.join(dir, f)));
    let resumeFrom = 0;
    if (o.resume) {
      if (!hasCheckpoint) {
        if (fs.existsSync(path.join(dir, CARD_FILE))) {
          release();
          return {
            ...done(dir),
            finished: `${dir} holds a finished run (its model and card are saved, no checkpoint is left): nothing to resume; to train it again, drop --resume and add --force`,
          };
        }
        throw new UserError(`${dir} holds no checkpoint to resume; drop --resume to start a new run`);
      }
      const state = readCheckpointState(dir)!;
      if (state.epochsDone > o.epochs)
        throw new UserError(
          `the checkpoint ${ckpt} is after epoch ${state.epochsDone}, past --epochs ${o.epochs}; resume with --epochs ${state.epochsDone} or more, or remove the checkpoint to start over`,
        );
      resumeFrom = state.epochsDone;
    } else if (!o.force && hasCheckpoint) {
      let after = '';
      try {
        after = ` after epoch ${readCheckpointState(dir)!.epochsDone}`;
      } catch {
        // a damaged checkpoint: still an unfinished run
      }
      throw new UserError(
        `${dir} holds an unfinished run (checkpoint${after}); continue it with --resume, or start over with --force`,
      );
    } else if (!o.force && model) {
      throw new UserError(
        `${dir} already holds a model (${model}); use --force to overwrite it or another output folder`,
      );
    }
    return {
      dir,
      finished: null,
      resumeFrom,
      release,
      async save(c, card) {
        // The old card goes first: the folder never pairs it with the new weights.
        const cardFile = path.join(dir, CARD_FILE);
        if (fs.existsSync(cardFile)) {
          fs.rmSync(cardFile);
          fsyncDir(dir);
        }
        await saveClassifier(c, dir, card);
        for (const f of ['weights.bin', 'model.json', CARD_FILE]) fsyncFile(path.join(dir, f));
        fsyncDir(dir);
        removeCheckpoint(dir);
        release();
      },
    };
  } catch (e) {
    release();
    throw e;
  }
}

const done = (dir: string): Omit<TrainOutput, 'finished'> => ({
  dir,
  resumeFrom: 0,
  release: () => undefined,
  save: async () => {
    throw new Error('a finished run saves nothing');
  },
});
