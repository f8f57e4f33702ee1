/**
 * `advlens serve`: the explorer's server (src/server/app.ts): the web app and its JSON API on
 * loopback by default; another address only when asked (--host), with a warning, since the server
 * runs attacks for whoever reaches it.
 *
 *   advlens serve --port 8080 --models ~/my-models
 */
import type { Command } from 'commander';
import { UserError } from '../../errors.ts';
import type { BackendName } from '../../engine/backend.ts';
import { setup } from '../main.ts';
import { positiveInt } from '../options.ts';

interface ServeOptions {
  port: number;
  host: string;
  models?: string[];
  dataDir?: string;
  workers: number;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Whether `host` is a loopback address (only this machine can reach the server). */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Registers `advlens serve`. */
export function registerServe(self: Command, program: Command): void {
  self
    .option(
      '--port <n>',
      'port to listen on (0: any free port)',
      (v: string) => {
        if (v === '0') return 0;
        const n = positiveInt('--port')(v);
        if (n > 65535) throw new UserError(`--port is a port number from 0 to 65535 (got '${v}')`);
        return n;
      },
      8080,
    )
    .option(
      '--host <address>',
      'address to listen on (loopback by default; another one exposes the server)',
      '127.0.0.1',
    )
    .option('--models <dirs...>', 'more model folders (a tfjs model folder, or a folder of them)')
    .option(
      '--data-dir <dir>',
      "the server's folder for uploads (default: a new folder under the system's temp folder)",
    )
    .option('--workers <n>', 'worker threads for jobs', positiveInt('--workers'), 1)
    .action(async (o: ServeOptions) => {
      await setup(program);
      if (!isLoopback(o.host))
        process.stderr.write(
          `advlens serve: warning: listening on ${o.host}, not loopback: anyone who reaches this address can upload files and run jobs on this machine\n`,
        );
      // Fastify and its plugins load only here, so that every other command starts without them.
      const { createServer } = await import('../../server/app.ts');
      const app = await createServer({
        models: o.models,
        dataDir: o.dataDir,
        workers: o.workers,
        backend: program.opts<{ backend: BackendName }>().backend,
      });
      let address: string;
      try {
        address = await app.listen({ port: o.port, host: o.host });
      } catch (e) {
        await app.close();
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE')
          throw new UserError(`port ${o.port} is in use; give another with --port (or 0 for any)`);
        if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
          throw new UserError(`cannot listen on ${o.host}: not an address of this machine; use 127.0.0.1`);
        if (code === 'EACCES')
          throw new UserError(`no permission to listen on port ${o.port}; use a port above 1023`);
        throw e;
      }
      process.stdout.write(
        `advlens explorer: ${address.replace('127.0.0.1', 'localhost')}/ (Ctrl+C stops it)\n`,
      );
      const stop = () => {
        void app.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await new Promise<void>((resolve) => app.server.once('close', () => resolve()));
    });
}
