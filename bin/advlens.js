#!/usr/bin/env node
// The advlens command. Runs the compiled CLI, dist/cli/main.js (`npm run build`, which `npm install`,
// `npm ci` and `npm test` run). In a checkout, where src/ lies beside dist/, it runs the TypeScript
// sources through tsx instead whenever they changed after the last build started (or nothing is
// built), so a stale build never runs; the installed package has no src/ and always runs dist/.
// Likewise `advlens serve` in a checkout whose explorer/ (or src/, which the web app bundles) changed
// after dist/explorer was built first rebuilds the web app (Vite), so a stale UI is never served.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { explorerSourcesNewer, librarySourcesNewer } from './sourcesNewer.js';

const root = new URL('../', import.meta.url);

/** Rebuilds dist/explorer alone, in a fresh folder that then replaces it whole; stamps it. */
async function rebuildExplorer() {
  const started = Date.now();
  const dist = fileURLToPath(new URL('dist/', root));
  const out = `${dist}explorer.build-${process.pid}`;
  const old = `${dist}explorer.old-${process.pid}`;
  process.stderr.write(
    'the explorer web app is not built or older than its sources (explorer/, src/): rebuilding dist/explorer ...\n',
  );
  try {
    const { build } = await import('vite');
    await build({
      configFile: fileURLToPath(new URL('explorer/vite.config.ts', root)),
      build: { outDir: out, emptyOutDir: true },
      logLevel: 'warn',
    });
  } catch (e) {
    fs.rmSync(out, { recursive: true, force: true });
    process.stderr.write(
      `advlens: could not rebuild the explorer web app (${e?.message ?? e}); fix it or run \`npm run build\`\n`,
    );
    process.exit(1);
  }
  fs.writeFileSync(`${out}/.build-stamp`, `${started}\n`);
  const app = `${dist}explorer`;
  if (fs.existsSync(app)) fs.renameSync(app, old);
  fs.renameSync(out, app);
  fs.rmSync(old, { recursive: true, force: true });
  process.stderr.write(`rebuilt dist/explorer in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

const command = process.argv.slice(2).find((a) => !a.startsWith('-'));
if (command === 'serve' && explorerSourcesNewer(root)) await rebuildExplorer();

let main;
if (librarySourcesNewer(root)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
} else {
  ({ main } = await import('../dist/cli/main.js'));
}
await main(process.argv);
