import cliProgress from 'cli-progress';

/** Formats seconds as 1h02m, 3m05s or 12s. */
export function duration(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const s = Math.round(sec);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/**
 * A progress bar on stderr when it is a terminal (and not under --json or CI); otherwise a line every
 * few seconds, so logs of long runs still show progress without control characters.
 */
export function progressBar(label: string, opts: { quiet?: boolean } = {}) {
  const tty = process.stderr.isTTY && !process.env.CI;
  if (opts.quiet) return { update: (_d: number, _t: number, _info = '') => {}, stop: () => {} };
  if (!tty) {
    let last = 0;
    return {
      update(done: number, total: number, info = '') {
        const now = Date.now();
        if (now - last > 5000 || done === total) {
          last = now;
          process.stderr.write(`${label} ${done}/${total} ${info}\n`);
        }
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {value}/{total} {info}`,
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done: number, total: number, info = '') {
      if (!started) {
        bar.start(total, 0, { info });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { info });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
