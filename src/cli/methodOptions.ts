/**
 * Command-line flags generated from method records (attacks, explainers, training objectives): each
 * option spec becomes a flag (`stepSize` -> `--step-size <alpha>`), with a parser that checks the
 * text against the loosest range of the methods that share the flag (each method checks its own
 * range when it runs) and help that says which methods use it and their defaults. Parsed flags
 * come back as library options with {@link methodOptionsFrom}.
 *
 *   addMethodOptions(cmd, Object.values(ATTACKS), { eps: { skip: true } });
 *   const options = methodOptionsFrom<AttackOptions>(parsed, Object.values(ATTACKS));
 */
import { Option, type Command } from 'commander';
import { defaultText, numberFits, numberRange, type NumberSpec, type OptionSpec } from '../options.ts';
import { UserError } from '../errors.ts';
import { EXPLAINERS, type ExplainOptions } from '../explain/index.ts';
import { OBJECTIVES, objectiveRecord } from '../train/objectives/index.ts';
import { parseNumber } from './options.ts';

/** A method as the generator sees it: a name and its option specs. */
export interface MethodDescription {
  name: string;
  options: object;
}

/** How a command departs from the generated flag of one option. */
export interface FlagOverride {
  /** No flag: the command has its own (e.g. `--eps` lists). */
  skip?: boolean;
  /** Keep the text as given; the command converts it (a class name against the model's labels). */
  raw?: boolean;
  /** Replaces the generated description. */
  doc?: string;
  /** The value when the flag is absent (commander's default). */
  default?: string | number | boolean;
}

/** `stepSize` -> `--step-size`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
}

interface Flag {
  key: string;
  uses: { method: string; spec: OptionSpec }[];
}

function specsOf(m: MethodDescription): [string, OptionSpec][] {
  return Object.entries(m.options) as [string, OptionSpec][];
}

/** Every option of `methods`, in order of first appearance, with the methods that declare it. */
function collect(methods: readonly MethodDescription[]): Flag[] {
  const flags = new Map<string, Flag>();
  for (const m of methods)
    for (const [key, spec] of specsOf(m)) {
      if (spec.refused) continue;
      let f = flags.get(key);
      if (!f) flags.set(key, (f = { key, uses: [] }));
      f.uses.push({ method: m.name, spec });
    }
  return [...flags.values()];
}

/** A boolean every method defaults to true is offered as `--no-x`; otherwise as `--x`. */
function negated(f: Flag): boolean {
  return f.uses.every((u) => u.spec.type === 'boolean' && u.spec.default === true);
}

/** The loosest number range of the methods sharing a flag. */
function loosest(specs: NumberSpec[]): NumberSpec {
  const mins = specs.map((s) => s.min);
  const min = mins.every((m) => m !== undefined) ? Math.min(...(mins as number[])) : undefined;
  const maxs = specs.map((s) => s.max);
  const max = maxs.every((m) => m !== undefined) ? Math.max(...(maxs as number[])) : undefined;
  return {
    type: 'number',
    doc: '',
    integer: specs.every((s) => s.integer),
    min,
    exclusiveMin: min !== undefined && specs.filter((s) => s.min === min).every((s) => s.exclusiveMin),
    max,
  };
}

function numberParser(flag: string, s: NumberSpec) {
  return (v: string): number => {
    const n = s.integer ? (/^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : null) : parseNumber(v);
    if (n === null || !numberFits(s, n))
      throw new UserError(
        `${flag} must be ${numberRange(s)}${s.integer ? '' : ' or a fraction like 8/255'} (got '${v}')`,
      );
    return n;
  };
}

/** Help text: the doc, who uses the flag when few do, and the defaults per method. */
function describe(f: Flag, all: number, o: FlagOverride): string {
  const first = f.uses[0].spec;
  const names = f.uses.map((u) => u.method);
  const who = names.length < all && names.length <= 5 ? `${names.join(', ')}: ` : '';
  let text = `${who}${o.doc ?? first.doc}`;
  if (negated(f)) return `${text} (on by default; this flag turns it off)`;
  if (first.type === 'boolean' || o.default !== undefined) return text; // commander shows that default
  const groups = new Map<string, string[]>();
  for (const u of f.uses) {
    const t = defaultText(u.spec);
    if (t !== null) groups.set(t, [...(groups.get(t) ?? []), u.method]);
  }
  if (groups.size === 1 && [...groups.values()][0].length === f.uses.length)
    text += ` (default ${[...groups.keys()][0]})`;
  else if (groups.size > 0)
    text += ` (default: ${[...groups].map(([t, ms]) => `${t} for ${ms.join(', ')}`).join('; ')})`;
  return text;
}

function makeOption(f: Flag, all: number, o: FlagOverride): Option | null {
  const spec = f.uses[0].spec;
  const name = flagName(f.key);
  const metavar = spec.metavar ?? (spec.type === 'choice' ? 'kind' : spec.type === 'string' ? 'name' : 'x');
  const desc = describe(f, all, o);
  let opt: Option;
  if (o.raw) opt = new Option(`${name} <${metavar}>`, desc);
  else if (spec.type === 'boolean')
    opt = negated(f) ? new Option(`--no-${name.slice(2)}`, desc) : new Option(name, desc);
  else if (spec.type === 'number') {
    const range = loosest(f.uses.map((u) => u.spec).filter((s): s is NumberSpec => s.type === 'number'));
    opt = new Option(`${name} <${metavar}>`, desc).argParser(numberParser(name, range));
  } else if (spec.type === 'choice') {
    const choices = [...new Set(f.uses.flatMap((u) => (u.spec.type === 'choice' ? u.spec.choices : [])))];
    opt = new Option(`${name} <${metavar}>`, desc).choices(choices);
  } else if (spec.type === 'string') opt = new Option(`${name} <${metavar}>`, desc);
  else if (spec.parse) {
    const parse = spec.parse;
    const check = spec.check;
    opt = new Option(`${name} <${metavar}>`, desc).argParser((v: string) => {
      const value = parse(v);
      if (value === undefined || !check(value))
        throw new UserError(`${name} must be ${spec.expects} (got '${v}')`);
      return value;
    });
  } else if (spec.textChoices) opt = new Option(`${name} <${metavar}>`, desc).choices(spec.textChoices);
  else return null; // no text form
  if (o.default !== undefined) opt.default(o.default);
  return opt;
}

/**
 * Adds one flag per option of `methods` to `cmd` (an option several methods share is one flag),
 * with `overrides` per option key. Returns `cmd`.
 */
export function addMethodOptions(
  cmd: Command,
  methods: readonly MethodDescription[],
  overrides: Record<string, FlagOverride> = {},
): Command {
  for (const f of collect(methods)) {
    const o = overrides[f.key] ?? {};
    if (o.skip) continue;
    const opt = makeOption(f, methods.length, o);
    if (opt) cmd.addOption(opt);
  }
  return cmd;
}

/** The option keys whose flags `parsed` holds, as given by the user (negated booleans when negated). */
function givenKeys(
  parsed: object,
  methods: readonly MethodDescription[],
  overrides: Record<string, FlagOverride>,
): Flag[] {
  const p = parsed as Record<string, unknown>;
  return collect(methods).filter((f) => {
    const o = overrides[f.key] ?? {};
    if (o.skip || o.raw) return false;
    const v = p[f.key];
    if (v === undefined) return false;
    return !(negated(f) && v === true);
  });
}

/**
 * The library options from parsed flags (commander's camelCase keys): every generated flag the
 * user gave, already checked by its parser against the specs' loosest range (each method checks
 * its own when it runs). Raw and skipped options are left to the command.
 */
export function methodOptionsFrom<O>(
  parsed: object,
  methods: readonly MethodDescription[],
  overrides: Record<string, FlagOverride> = {},
): Partial<O> {
  const p = parsed as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of givenKeys(parsed, methods, overrides)) out[f.key] = p[f.key];
  return out as Partial<O>;
}

/**
 * For a command that runs one method: a {@link UserError} when the user gave a flag of another
 * method, naming the flags this one takes.
 */
export function checkMethodFlags(
  parsed: object,
  method: MethodDescription,
  methods: readonly MethodDescription[],
  what = 'method',
  overrides: Record<string, FlagOverride> = {},
): void {
  const own = specsOf(method)
    .filter(([, s]) => !s.refused)
    .map(([k]) => k);
  const flagOf = (k: string) => {
    const f = collect(methods).find((x) => x.key === k);
    return f && negated(f) ? `--no-${flagName(k).slice(2)}` : flagName(k);
  };
  for (const f of givenKeys(parsed, methods, overrides))
    if (!own.includes(f.key))
      throw new UserError(
        `${what} ${method.name} does not use ${flagOf(f.key)}; ${own.length ? `it takes ${own.map(flagOf).join(', ')}` : `it takes no ${what} options`}`,
      );
}

/** How the explainer flags depart from the generated ones: `--target` is the command's own. */
const EXPLAIN_FLAGS: Record<string, FlagOverride> = {
  target: { skip: true },
  seed: { default: 0 },
};

/** Adds the options of every registered explainer, one flag per option (each method ignores the others). */
export function addExplainOptions(cmd: Command): Command {
  return addMethodOptions(cmd, Object.values(EXPLAINERS), EXPLAIN_FLAGS);
}

/** The explainer options the user gave on the command line (the target is the command's). */
export function explainOptionsFrom(parsed: object): ExplainOptions {
  return methodOptionsFrom<ExplainOptions>(parsed, Object.values(EXPLAINERS), EXPLAIN_FLAGS);
}

/** Adds the options of every training objective, one flag per option. */
export function addObjectiveOptions(cmd: Command): Command {
  return addMethodOptions(cmd, Object.values(OBJECTIVES));
}

/**
 * The options of training method `method` from the command line; a {@link UserError} when the user
 * gave a flag the method does not use, naming the flags it takes.
 */
export function objectiveOptionsFrom(parsed: object, method: string): Record<string, unknown> {
  const all = Object.values(OBJECTIVES);
  checkMethodFlags(parsed, objectiveRecord(method), all);
  return methodOptionsFrom<Record<string, unknown>>(parsed, all);
}
