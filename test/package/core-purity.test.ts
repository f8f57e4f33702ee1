/**
 * The core (`advlens`, src/index.ts) must run in a browser: no file it reaches may import a Node
 * built-in, a Node-only package, or the Node and CLI layers (src/node/, src/cli/). The zoo's logic
 * (src/zoo/) is held to the same rule. esbuild resolves the import graph as a bundler would (static,
 * dynamic and re-exports; TypeScript's type-only imports are erased, as in the compiled package).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Packages that only work in Node (native code, files, a terminal) or are dev tools. */
const NODE_ONLY_PACKAGES = ['sharp', 'commander', 'cli-progress', 'tsx', 'esbuild', 'typescript'];
const NODE_ONLY_DIRS = ['src/node/', 'src/cli/'];
const BUILTINS = new Set(builtinModules);

/** Why importing `spec` (an external, bare specifier) is not browser-safe, or null when it is. */
function externalProblem(spec: string): string | null {
  if (spec.startsWith('node:')) return 'a Node built-in';
  const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
  if (BUILTINS.has(name)) return 'a Node built-in';
  if (NODE_ONLY_PACKAGES.includes(name)) return 'a Node-only package';
  return null;
}

interface Graph {
  /** Every source file reached, with the file that first imported it (null for an entry). */
  parent: Map<string, string | null>;
  problems: string[];
}

/** The import graph from `entries` (paths relative to the repository root) and its violations. */
async function importGraph(entries: string[]): Promise<Graph> {
  const r = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: entries,
    bundle: true,
    write: false,
    outdir: 'out',
    metafile: true,
    platform: 'neutral',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
  });
  const inputs = r.metafile.inputs;
  const parent = new Map<string, string | null>(entries.map((e) => [e, null]));
  const queue = [...entries];
  while (queue.length) {
    const file = queue.shift()!;
    for (const im of inputs[file]?.imports ?? [])
      if (!im.external && !parent.has(im.path)) {
        parent.set(im.path, file);
        queue.push(im.path);
      }
  }
  const chain = (file: string): string => {
    const names = [];
    for (let f: string | null | undefined = file; f; f = parent.get(f)) names.unshift(f);
    return names.join(' -> ');
  };
  const problems: string[] = [];
  for (const file of parent.keys())
    for (const im of inputs[file]?.imports ?? []) {
      const why = im.external
        ? externalProblem(im.path)
        : NODE_ONLY_DIRS.some((d) => im.path.startsWith(d))
          ? `a file of ${NODE_ONLY_DIRS.find((d) => im.path.startsWith(d))}`
          : null;
      if (why) problems.push(`${chain(file)} imports '${im.original ?? im.path}' (${why})`);
    }
  return { parent, problems };
}

test('the core (src/index.ts) imports no Node built-in, Node-only package, src/node/ or src/cli/ file', async () => {
  const g = await importGraph(['src/index.ts']);
  // The graph is really followed: the core's algorithms are in it (through re-exports and their imports).
  for (const f of ['src/attacks/pgd.ts', 'src/explain/integratedGradients.ts', 'src/engine/kernels/index.ts'])
    assert.ok(g.parent.has(f), `${f} is reached from src/index.ts`);
  assert.ok(g.parent.size > 30, `only ${g.parent.size} files reached`);
  assert.deepEqual(g.problems, [], `the core is not browser-safe:\n${g.problems.join('\n')}`);
});

test("the zoo's logic (every file of src/zoo/) is browser-safe too; its file access is in src/node/zoo.ts", async () => {
  const zoo = fs
    .readdirSync(`${ROOT}src/zoo`)
    .filter((f) => /\.[cm]?tsx?$/.test(f))
    .map((f) => `src/zoo/${f}`);
  assert.ok(zoo.includes('src/zoo/zoo.ts'));
  const g = await importGraph(zoo);
  assert.deepEqual(g.problems, [], `src/zoo is not browser-safe:\n${g.problems.join('\n')}`);
});

test('the check catches what it looks for: built-ins, Node-only packages, src/node and src/cli files', () => {
  for (const spec of [
    'node:fs',
    'fs',
    'fs/promises',
    'path',
    'worker_threads',
    'sharp',
    'commander',
    'cli-progress',
  ])
    assert.ok(externalProblem(spec), spec);
  for (const spec of ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm'])
    assert.equal(externalProblem(spec), null, spec);
});
