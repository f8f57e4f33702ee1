/** What `advlens zoo` prints: the members present with their headline numbers, and the missing ones. */
import path from 'node:path';
import type { ZooEntry, ZooListing } from '../zoo/zoo.ts';
import { duration } from './progress.ts';
import { pct, textTable } from './table.ts';

const headline = (h: ZooEntry['clean']) => (h ? `${pct(h.accuracy)} (${h.data}, ${h.examples})` : '-');

/** The human listing of `advlens zoo`. */
export function printListing(z: ZooListing): void {
  const w = (s: string) => process.stdout.write(s + '\n');
  w(
    `model zoo in ${z.modelsDir}: ${z.present.length} of ${z.present.length + z.missing.length} members present`,
  );
  if (z.present.length)
    w(
      '\n' +
        textTable(
          [
            'method',
            'folder',
            'clean accuracy (data, images)',
            'PGD-200 eps 0.3 (data, images)',
            'train time',
            'epochs',
          ],
          z.present.map((e) => [
            e.method,
            e.dir,
            headline(e.clean),
            headline(e.pgd03),
            e.wallTimeSec === null ? '-' : duration(e.wallTimeSec),
            e.epochs ?? '-',
          ]),
        ),
    );
  for (const e of z.present) for (const warning of e.warnings) w(`warning: ${warning}`);
  if (z.present.some((e) => !e.pgd03))
    w(
      `no PGD-200 accuracy recorded for ${z.present
        .filter((e) => !e.pgd03)
        .map((e) => e.method)
        .join(
          ', ',
        )}: measure and record it with 'advlens zoo table --data mnist:test --data-dir DIR --record'`,
    );
  if (z.present.length) {
    w('\ntrained with:');
    for (const e of z.present) w(`  ${e.method}: ${e.command ?? '(no command in the card)'}`);
  }
  if (z.missing.length) {
    w(`\nmissing (${z.missing.length}):`);
    for (const m of z.missing) w(`  ${m.method}: ${m.reason}\n    ${m.train}`);
    w(`\nthe zoo's recipes and how they differ from the papers': README.md, "Model zoo"`);
  }
}

/** The listing as JSON: the cards' headline numbers, not the cards themselves. */
export function listingJson(z: ZooListing): string {
  return (
    JSON.stringify(
      {
        modelsDir: path.resolve(z.modelsDir),
        present: z.present.map(({ card: _card, ...e }) => e),
        missing: z.missing,
      },
      null,
      2,
    ) + '\n'
  );
}
