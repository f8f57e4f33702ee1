import { Command, CommanderError, Option } from 'commander';
import { UserError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { BACKENDS, type BackendName } from '../engine/backend.ts';
import { initNodeBackend } from '../node/backend.ts';
import { registerInfo } from './commands/info.ts';
import { registerData } from './commands/data.ts';
import { registerPredict } from './commands/predict.ts';
import { registerTrain } from './commands/train.ts';
import { registerEval } from './commands/eval.ts';
import { registerDemo } from './commands/demo.ts';
import { registerAttack } from './commands/attack.ts';
import { registerExplain } from './commands/explain.ts';
import { registerZoo } from './commands/zoo.ts';
import { registerSweep } from './commands/sweep.ts';
import { registerWorker } from './commands/worker.ts';
import { registerPathways } from './commands/pathways.ts';
import { registerStylize } from './commands/stylize.ts';
import { registerAtlas } from './commands/atlas.ts';
import { registerServe } from './commands/serve.ts';
import { registerMasking } from './commands/masking.ts';

/** Options shared by every command. */
export interface GlobalOptions {
  backend: BackendName;
}

/** Initialises the engine from the global options (called by each command's action). */
export async function setup(program: Command): Promise<void> {
  const g = program.opts<GlobalOptions>();
  await initNodeBackend(g.backend);
}

/** Commander's message (with its 'Did you mean' hint) as one line. */
function oneLine(str: string): string {
  return str
    .replace(/^error: /, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}

/** Builds the `advlens` command line. */
export function buildProgram(): Command {
  const program = new Command('advlens')
    .description(
      'Attack, explain and harden image classifiers; see how an attack works its way through a network.',
    )
    .version(VERSION)
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(BACKENDS).default('wasm'))
    .showSuggestionAfterError()
    // Global options go before the command (as the README says), so that a command's own options
    // after a subcommand (`zoo verify --json`) reach the subcommand, not its parent.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      outputError: (str, write) => write(`advlens: ${oneLine(str)}\n`),
    });
  for (const register of [
    registerDemo,
    registerInfo,
    registerData,
    registerPredict,
    registerTrain,
    registerEval,
    registerAttack,
    registerExplain,
    registerZoo,
    registerSweep,
    registerWorker,
    registerPathways,
    registerStylize,
    registerAtlas,
    registerServe,
    registerMasking,
  ]) {
    register(program);
  }
  for (const c of program.commands) {
    c.exitOverride().configureOutput({
      outputError: (str, write) =>
        write(
          `advlens ${c.name()}: ${oneLine(str)}${
            /unknown option '--backend'/.test(str)
              ? `; global options go before the command: advlens --backend <name> ${c.name()} ...`
              : ''
          }\n`,
        ),
    });
    for (const sub of c.commands) sub.exitOverride();
  }
  return program;
}

/** Ends the process after a write to stdout or stderr failed (see {@link main}). */
function outputFailed(e: NodeJS.ErrnoException, stdout: boolean): never {
  if (e.code === 'EPIPE') process.exit(0);
  if (stdout) {
    try {
      process.stderr.write(
        `advlens: cannot write the output (${e.code ?? e.message}${e.code === 'ENOSPC' ? ': no space left on the device' : ''}); free space or redirect stdout elsewhere\n`,
      );
    } catch {
      /* stderr is gone too: the exit code says it */
    }
  }
  process.exit(2);
}

/** Runs the CLI: user mistakes print one line and exit 2; internal errors keep their stack and exit 1. */
export async function main(argv: string[]): Promise<void> {
  // A closed pipe (`advlens eval | head`) is not an error; a full disk or a bad descriptor behind
  // stdout (`advlens zoo > /dev/full`) is one line and exit 2.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => outputFailed(e, stream === process.stdout));
  }
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        process.exit(0);
      if (e.code === 'commander.executeSubCommandAsync') process.exit(e.exitCode);
      process.exit(2); // commander already printed the one-line message
    }
    if (e instanceof UserError) {
      process.stderr.write(`advlens: ${e.message}\n`);
      process.exit(2);
    }
    // The wasm heap is limited (4 GiB): too large a batch of large images ends in a RangeError or a
    // "memory access out of bounds" from inside the runtime. Say what to do instead of a stack.
    const msg = String((e as Error)?.message ?? e);
    if (
      /memory access out of bounds|out of memory|Cannot enlarge memory|Array buffer allocation failed/i.test(
        msg,
      )
    ) {
      process.stderr.write(
        `advlens: ran out of memory for the TensorFlow.js ${program.opts<GlobalOptions>().backend} backend (${msg.split('\n')[0]}); use a smaller --batch-size or fewer samples/steps\n`,
      );
      process.exit(2);
    }
    // Internal errors keep their stack (printed here: the wasm runtime's own handler would print its source).
    process.stderr.write(`advlens: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  }
}
