// Only what every run needs loads here (commander, the version, the backend names): each command's
// module, and with it TensorFlow.js and the rest of the library, loads when that command runs
// (commandList.ts).
import { Command, CommanderError, Help, Option } from 'commander';
import { UserError } from '../errors.ts';
import { VERSION } from '../packageVersion.ts';
import { BACKENDS, type BackendName } from '../engine/backendNames.ts';
import { COMMANDS, type CommandEntry } from './commandList.ts';

/** Options shared by every command. */
export interface GlobalOptions {
  backend: BackendName;
}

/** Initialises the engine from the global options (called by each command's action). */
export async function setup(program: Command): Promise<void> {
  const g = program.opts<GlobalOptions>();
  const { initNodeBackend } = await import('../node/backend.ts');
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

/** The commands whose module is not loaded yet, with their entry (for their line in the top-level help). */
const unloaded = new WeakMap<Command, CommandEntry>();

/** Each command's errors as one line naming it; a hint where a global option follows the command. */
function commandErrors(c: Command): void {
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

/** Loads the module of command `c` (one of `program`'s) and adds its options, subcommands and action. */
export async function loadCommand(program: Command, c: Command): Promise<void> {
  const entry = unloaded.get(c);
  if (!entry) return;
  unloaded.delete(c);
  (await entry.load())(c, program);
  commandErrors(c);
}

/**
 * Builds the `advlens` command line: every command with its name, description and arguments, none
 * with its options and action yet ({@link loadCommand} adds them; {@link main} does for the command
 * it runs).
 */
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
    })
    // A command not loaded has no options yet: its line says `[options]` as it will have them.
    .configureHelp({
      subcommandTerm: (c) => {
        const entry = unloaded.get(c);
        const term = new Help().subcommandTerm(c);
        return entry?.options ? `${c.name()} [options]${term.slice(c.name().length)}` : term;
      },
    })
    // A command parsed is loaded first (main loads it before parsing; this is for any other caller).
    .hook('preSubcommand', (_, c) => loadCommand(program, c));
  for (const entry of COMMANDS) {
    const c = program.command(entry.name).description(entry.description);
    for (const [usage, description] of entry.args ?? []) c.argument(usage, description);
    unloaded.set(c, entry);
  }
  return program;
}

/**
 * The command a command line (`args`, after node and the script) runs or asks help for (`help
 * <command>`): the first word after the global options and their values.
 */
export function commandNamed(program: Command, args: string[]): string | undefined {
  let i = 0;
  while (i < args.length && args[i].startsWith('-') && args[i] !== '--') {
    const o = program.options.find((x) => x.long === args[i] || x.short === args[i]);
    i += o?.required ? 2 : 1;
  }
  if (args[i] === '--') i++;
  const [first, second] = args.slice(i);
  return first === 'help' ? second : first;
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
    const named = program.commands.find((c) => c.name() === commandNamed(program, argv.slice(2)));
    if (named) await loadCommand(program, named);
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
