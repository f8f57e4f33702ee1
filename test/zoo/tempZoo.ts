/**
 * The zoo the zoo-table tests measure: a folder under os.tmpdir() (removed after the file's tests)
 * holding copies of the project's GAP CNN (models/mnist-gap-cnn) under the given member folder names,
 * so the runs can record into their cards: tests never write into models/.
 */
import { after } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ModelCard } from '../../src/models/card.ts';
import { listZoo } from '../../src/node/zoo.ts';
import type { ZooEntry, ZooListing } from '../../src/zoo/zoo.ts';

/** A temporary zoo; each member function takes a member's folder name (default: the first member). */
export interface TempZoo {
  /** The zoo folder. */
  zoo: string;
  /** A member's folder. */
  dir(member?: string): string;
  /** A member's card file. */
  cardFile(member?: string): string;
  /** A member's card as it is on disk now. */
  readCard(member?: string): ModelCard;
  /**
   * The options of a table run on this zoo (zooTableRun, zooTable3Run): `base`, then a call's own;
   * the zoo is listed again at each call (the cards as they are on disk then).
   */
  runOptions<O extends ZooRunOptions>(base: Omit<O, keyof ZooRunOptions>): (o?: Partial<O>) => O;
}

/** What the table runs take of a listed zoo. */
interface ZooRunOptions {
  zoo: ZooListing;
  present: ZooEntry[];
}

/** Makes a zoo `<os.tmpdir()>/<prefix>XXXXXX` of copies of the GAP CNN named `members`. */
export function tempZoo(prefix: string, members: readonly string[]): TempZoo {
  const zoo = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => fs.rmSync(zoo, { recursive: true, force: true }));
  for (const m of members) fs.cpSync('models/mnist-gap-cnn', path.join(zoo, m), { recursive: true });
  const dir = (m = members[0]) => path.join(zoo, m);
  const cardFile = (m = members[0]) => path.join(dir(m), 'advlens.json');
  const readCard = (m = members[0]) => JSON.parse(fs.readFileSync(cardFile(m), 'utf8')) as ModelCard;
  const runOptions =
    <O extends ZooRunOptions>(base: Omit<O, keyof ZooRunOptions>) =>
    (o: Partial<O> = {}): O => {
      const z = listZoo(zoo);
      return { zoo: z, present: z.present, ...base, ...o } as O;
    };
  return { zoo, dir, cardFile, readCard, runOptions };
}
