/**
 * An explorer server in a child process of the load test (its memory measured apart from the load
 * generator's): prints its address on stdout; answers IPC 'memory' with process.memoryUsage() after
 * a full garbage collection (started with --expose-gc).
 */
import { live } from './live.ts';

const srv = await live();
process.stdout.write(JSON.stringify({ base: srv.base }) + '\n');
process.on('message', (m: string) => {
  if (m === 'memory') {
    (globalThis as { gc?: () => void }).gc?.();
    process.send!({ memory: process.memoryUsage() });
  } else if (m === 'stop') void srv.close().then(() => process.exit(0));
});
