/** What `advlens zoo` prints: the members present with their headline numbers, and the missing ones. */
import path from 'node:path';
import type { ZooEntry, ZooListing } from '../zoo/zoo.ts';
import { duration } from './progress.ts';
import { pct, textTable } from './table.ts';

const headline = (h: ZooEntry['clean']) => (h ? `${pct(h.accuracy)} (${h.data}, ${h.examples})` : '-');

/** The human listing of `advlens zoo`, for the zoo's own test set and budget (`z.headline`). */
export function listingText(z: ZooListing): string {
  const lines: string[] = [];
  const w = (s: string) => lines.push(s);
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
            `PGD-200 eps ${z.headline.epsLabel} (data, images)`,
            'train time',
            'epochs',
          ],
          z.present.map((e) => [
            e.method,
            e.dir,
            headline(e.clean),
            headline(e.pgd200),
            e.wallTimeSec === null ? '-' : duration(e.wallTimeSec),
            e.epochs ?? '-',
          ]),
        ),
    );
  for (const e of z.present) for (const warning of e.warnings) w(`warning: ${warning}`);
  const unmeasured = z.present.filter((e) => !e.pgd200).map((e) => e.method);
  if (unmeasured.length)
    w(
      `no PGD-200 accuracy at eps ${z.headline.epsLabel} recorded for ${unmeasured.join(', ')}: measure and record it with '${z.recordCommand}'`,
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
  return lines.map((l) => l + '\n').join('');
}

/** The listing as JSON: the cards' headline numbers, not the cards themselves. */
export function listingJson(z: ZooListing): string {
  return (
    JSON.stringify(
      {
        zoo: z.zoo,
        headline: z.headline,
        recordCommand: z.recordCommand,
        modelsDir: path.resolve(z.modelsDir),
        present: z.present.map(({ card: _card, ...e }) => e),
        missing: z.missing,
      },
      null,
      2,
    ) + '\n'
  );
}
