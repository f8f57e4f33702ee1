import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';

const dir = new URL('../../src/metrics/', import.meta.url);

/** The files of src/metrics that `file` imports (type imports and re-exports included). */
function importsOf(file: string): string[] {
  const text = readFileSync(new URL(file, dir), 'utf8');
  return [...text.matchAll(/(?:import|export)\s[^;]*?from\s+'\.\/([^']+)'/g)].map((m) => m[1]);
}

test('src/metrics has no import cycle (robustness.ts and sanity.ts share types through robustTypes.ts)', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  assert.ok(graph.get('robustness.ts')!.includes('robustPlan.ts'), 'the parser reads the imports');
  const state = new Map<string, 'open' | 'done'>();
  const visit = (f: string, path: string[]): void => {
    if (state.get(f) === 'done') return;
    assert.notEqual(state.get(f), 'open', `import cycle: ${[...path, f].join(' -> ')}`);
    state.set(f, 'open');
    for (const g of graph.get(f) ?? []) visit(g, [...path, f]);
    state.set(f, 'done');
  };
  for (const f of files) visit(f, []);
});
