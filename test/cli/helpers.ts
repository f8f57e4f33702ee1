import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/advlens.js', import.meta.url));
/** `../shared` beside the repository: real data and models; tests that need it skip without it. */
export const SHARED = fileURLToPath(new URL('../../../shared/', import.meta.url));
export const hasShared = (rel = ''): boolean => fs.existsSync(SHARED + rel);

/** Runs the advlens CLI and returns its exit code and output. */
export function advlens(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    env: { ...process.env, CI: '1', ...opts.env },
    timeout: 600_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What `process.exit(code)` throws while {@link advlensHere} runs the CLI. */
class Exit {
  constructor(readonly code: number) {}
}

/**
 * Runs the advlens CLI in this process (src/cli/main.ts, as `bin/advlens.js` runs it) and returns its
 * exit code and output, as {@link advlens} does. A process of its own costs about 2 s of CPU to start
 * (it loads the whole library and TensorFlow.js), more than the work of most test runs; use this for
 * runs that are meant to succeed, one at a time. The run sees the argv, the environment (CI=1) and the
 * exit of a process of its own: `process.exit` ends it with that code, `process.exitCode` is its code,
 * and the 'exit' handlers it added run when it ends. Only for commands that print text (bytes on
 * stdout pass through). Keep {@link advlens} (a real process) for what
 * only a process shows: the one-line errors of the exit paths, signals, locks held by two runs.
 */
export async function advlensHere(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { main } = await import('../../src/cli/main.ts');
  const out = { stdout: '', stderr: '' };
  const saved = {
    argv: process.argv,
    ci: process.env.CI,
    exit: process.exit,
    stdout: process.stdout.write,
    stderr: process.stderr.write,
    listeners: new Map((['exit', 'SIGINT'] as const).map((e) => [e, new Set(process.listeners(e))] as const)),
    streamListeners: [process.stdout, process.stderr].map((s) => new Set(s.listeners('error'))),
  };
  // The CLI writes text; bytes on stdout are the test runner's own reports (`node --test` runs each
  // file in a process that sends them serialised), which go on to the runner.
  const capture = (key: 'stdout' | 'stderr') =>
    ((chunk: string | Uint8Array, enc?: unknown, cb?: () => void) => {
      if (typeof chunk !== 'string' && key === 'stdout')
        return saved.stdout.call(process.stdout, chunk, enc as BufferEncoding, cb);
      out[key] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      (typeof enc === 'function' ? (enc as () => void) : cb)?.();
      return true;
    }) as typeof process.stdout.write;
  const cwd = process.cwd();
  process.chdir(ROOT); // where advlens() runs its processes
  process.argv = [process.execPath, BIN, ...args];
  process.env.CI = '1';
  process.exit = ((code?: number) => {
    throw new Exit(code ?? 0);
  }) as typeof process.exit;
  process.stdout.write = capture('stdout');
  process.stderr.write = capture('stderr');
  process.exitCode = undefined;
  let code = 0;
  try {
    await main(process.argv);
    code = Number(process.exitCode ?? 0);
  } catch (e) {
    if (!(e instanceof Exit)) throw e;
    code = e.code;
  } finally {
    // The run's process ends here: its 'exit' handlers run, and its handlers go with it.
    for (const [event, before] of saved.listeners)
      for (const l of process.listeners(event))
        if (!before.has(l)) {
          process.removeListener(event, l);
          if (event === 'exit') (l as (code: number) => void)(code);
        }
    [process.stdout, process.stderr].forEach((s, i) => {
      for (const l of s.listeners('error'))
        if (!saved.streamListeners[i].has(l)) s.removeListener('error', l as () => void);
    });
    process.chdir(cwd);
    process.argv = saved.argv;
    if (saved.ci === undefined) delete process.env.CI;
    else process.env.CI = saved.ci;
    process.exit = saved.exit;
    process.stdout.write = saved.stdout;
    process.stderr.write = saved.stderr;
    process.exitCode = undefined;
  }
  return { code, ...out };
}
