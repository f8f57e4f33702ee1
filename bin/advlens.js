#!/usr/bin/env node
// The advlens command. Runs the compiled CLI, dist/cli/main.js (`npm run build`, which `npm install`,
// `npm ci` and `npm test` run). In a checkout, where src/ lies beside dist/, it runs the TypeScript
// sources through tsx instead whenever they changed after the last build started (or nothing is
// built), so a stale build never runs; the installed package has no src/ and always runs dist/.
import { sourcesNewer } from './sourcesNewer.js';

const root = new URL('../', import.meta.url);

let main;
if (sourcesNewer(root)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
} else {
  ({ main } = await import('../dist/cli/main.js'));
}
await main(process.argv);
