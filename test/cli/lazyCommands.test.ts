import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProgram, commandNamed, loadCommand } from '../../src/cli/main.ts';
import { COMMANDS } from '../../src/cli/commandList.ts';
import { STYLIZE_PROVENANCE } from '../../src/node/stylizeRun.ts';

test('commandNamed finds the command after the global options and their values, and the one `help` names', () => {
  const p = buildProgram();
  const cases: [string[], string | undefined][] = [
    [['zoo', '--zoo', 'cifar10'], 'zoo'],
    [['--backend', 'cpu', 'eval', '--model', 'x'], 'eval'],
    [['--backend=cpu', 'info'], 'info'],
    [['help', 'zoo'], 'zoo'],
    [['--backend', 'cpu', 'help', 'sweep'], 'sweep'],
    [['--', 'data', 'list'], 'data'],
    [['--help'], undefined],
    [['-V'], undefined],
    [[], undefined],
  ];
  for (const [args, name] of cases) assert.equal(commandNamed(p, args), name, args.join(' '));
});

test('the top-level help of the lazy commands is the help once every command is loaded', async () => {
  const lazy = buildProgram();
  const loaded = buildProgram();
  for (const c of loaded.commands) await loadCommand(loaded, c);
  assert.ok(
    loaded.commands.every((c) => c.options.length > 0 || c.name() === 'data'),
    'each command got its options',
  );
  assert.ok(
    lazy.commands.every((c) => c.options.length === 0),
    'none loaded before',
  );
  assert.equal(lazy.helpInformation(), loaded.helpInformation());
  assert.match(lazy.helpInformation(), /^ {2}sweep \[options\] <plan> /m);
  assert.match(lazy.helpInformation(), /^ {2}data {2,}list the datasets/m);
  // Each entry says whether its command has options, as its module registers them.
  for (const e of COMMANDS)
    assert.equal(e.options, loaded.commands.find((c) => c.name() === e.name)!.options.length > 0, e.name);
  assert.ok(COMMANDS.find((e) => e.name === 'stylize')!.description.includes(STYLIZE_PROVENANCE));
});
