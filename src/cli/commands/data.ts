import type { Command } from 'commander';
import { listData } from '../../node/loadData.ts';
import { fetchDataset, fetchableDatasets } from '../../node/fetch.ts';
import { progressBar } from '../progress.ts';
import { textTable } from '../table.ts';

/** `advlens data list|fetch`: what data is found where; download official files. */
export function registerData(self: Command, program: Command): void {
  const data = self;
  data
    .command('list')
    .description('show each known dataset and split: found or not, where, and how many examples')
    .option('--data-dir <dir>', 'searched first')
    .option('--json', 'machine-readable output')
    .action(async (o: { dataDir?: string; json?: boolean }) => {
      const r = await listData({ dataDir: o.dataDir });
      if (o.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        return;
      }
      process.stdout.write(
        textTable(
          ['dataset', 'found', 'examples', 'where'],
          r.datasets.map((d) => [d.spec, d.found ? 'yes' : 'no', d.examples ?? '', d.path ?? '']),
        ) + '\n',
      );
      process.stdout.write('\nsearched, in order:\n');
      for (const s of r.searchPath)
        process.stdout.write(`  ${s.path} (${s.origin}${s.exists ? '' : ', absent'})\n`);
      process.stdout.write(
        `\nmissing data: 'advlens data fetch NAME' (${fetchableDatasets().join(', ')}) or --data-dir\n`,
      );
    });
  data
    .command('fetch <name>')
    .description(
      `download a dataset's official files with checksums (${fetchableDatasets().join(', ')}); resumable`,
    )
    .option('--data-dir <dir>', 'where to put it (default ~/.cache/advlens)')
    .option('--mirror <url>', 'base URL to download from instead of the official one')
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { dataDir?: string; mirror?: string; json?: boolean }) => {
      const bar = progressBar(`fetch ${name}`, { quiet: o.json });
      const r = await fetchDataset(name, {
        dataDir: o.dataDir,
        baseUrl: o.mirror,
        onProgress: (done, total, file) => bar.update(done, total ?? done, file),
      });
      bar.stop();
      if (o.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        return;
      }
      process.stdout.write(`${name}: ${r.files.length} files verified in ${r.dir}\n`);
    });
}
