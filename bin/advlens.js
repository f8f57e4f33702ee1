#!/usr/bin/env node
// The advlens command. Runs the compiled CLI, dist/cli/main.js (`npm run build`, which `npm install`,
// `npm ci` and `npm test` run). In a checkout, where src/ lies beside dist/, it runs the TypeScript
// sources through tsx instead whenever they changed after the last build started (or nothing is
// built), so a stale build never runs; the installed package has no src/ and always runs dist/.
import fs from 'node:fs';

const root = new URL('../', import.meta.url);

/** Whether src/ exists and holds a file or folder changed since dist/ was built. */
function sourcesNewer() {
  const src = new URL('src/', root);
  if (!fs.existsSync(src)) return false;
  let built;
  try {
    built = Number(fs.readFileSync(new URL('dist/.build-stamp', root), 'utf8'));
  } catch {
    return true;
  }
  const changed = (p) => {
    try {
      return fs.statSync(p).mtimeMs > built;
    } catch {
      return false; // gone meanwhile (its folder's time tells), or an optional file
    }
  };
  if (!(built > 0) || changed(src)) return true;
  if (['tsconfig.json', 'tsconfig.build.json'].some((f) => changed(new URL(f, root)))) return true;
  // Folders count too: deleting or renaming a file changes its folder's time.
  for (const e of fs.readdirSync(src, { recursive: true, withFileTypes: true }))
    if (changed(`${e.parentPath ?? e.path}/${e.name}`)) return true;
  return false;
}

let main;
if (sourcesNewer()) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
} else {
  ({ main } = await import('../dist/cli/main.js'));
}
await main(process.argv);
