#!/usr/bin/env node
// The advlens command. Runs the TypeScript sources through tsx (a dependency), so a fresh clone
// works right after `npm install` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
