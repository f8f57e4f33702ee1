// Bootstrap of a pool worker thread (src/node/pool.ts): registers tsx in this thread, so the
// TypeScript sources load here as they do in the main thread (under `node --import tsx` and under
// bin/advlens.js alike; the pool starts workers with no exec arguments), then runs poolWorker.ts.
import { register } from 'tsx/esm/api';

register();
await import('./poolWorker.ts');
