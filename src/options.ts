/**
 * Method options described as data. Every attack, explainer and training objective declares its
 * options once, as an {@link OptionSpecs} object beside its typed options interface: the type, the
 * default, the range or choices and a one-line doc of each. {@link resolveOptions} applies the
 * defaults and checks values against those specs (a {@link OptionError} naming the option and the
 * method otherwise); the CLI generates its flags and help from the same specs, and a web form can.
 *
 *   interface StepOptions { steps?: number; loss?: 'ce' | 'cw' }
 *   const SPECS = {
 *     steps: { type: 'number', integer: true, min: 1, default: 40, doc: 'iterations' },
 *     loss: { type: 'choice', choices: ['ce', 'cw'], default: 'ce', doc: 'loss to ascend' },
 *   } satisfies OptionSpecs<StepOptions>;
 *   resolveOptions({ kind: 'attack', name: 'toy' }, SPECS, { steps: 0 }); // OptionError: ... 'steps' must be an integer >= 1 (got 0)
 */
import { UserError } from './errors.ts';

interface SpecBase {
  /** One line: what the option does (shown in help and forms). */
  doc: string;
  /** How a default computed from other options reads, e.g. `'0.01 (linf), eps/5 (l2)'`. */
  defaultText?: string;
  /** The option must be given (no default, not optional). */
  required?: boolean;
  /** A placeholder for the value in help and forms: 'n', 'alpha', 'start,end'. */
  metavar?: string;
  /** The method refuses this option (see {@link refused}); forms and flags leave it out. */
  refused?: boolean;
}

/** A number, optionally an integer, within [min, max] (min exclusive with `exclusiveMin`). */
export interface NumberSpec extends SpecBase {
  type: 'number';
  default?: number;
  integer?: boolean;
  min?: number;
  exclusiveMin?: boolean;
  max?: number;
}

/** true or false. */
export interface BooleanSpec extends SpecBase {
  type: 'boolean';
  default?: boolean;
}

/** One of a fixed set of strings. */
export interface ChoiceSpec<T extends string = string> extends SpecBase {
  type: 'choice';
  choices: readonly T[];
  default?: T;
}

/** Any string (a layer name, ...). */
export interface StringSpec extends SpecBase {
  type: 'string';
  default?: string;
}

/**
 * A value of another shape (a class per image, a baseline image, a [start, end] pair): `check`
 * returns null when the value is good, else what it must be ("[start, end] with ..."). `parse` reads
 * it from text (a command-line value); undefined when the text is not such a value.
 */
export interface ValueSpec<T = unknown> extends SpecBase {
  type: 'value';
  default?: T;
  /** What a good value is, for messages: "a class index or one per image". */
  expects: string;
  check(v: unknown): boolean;
  /** Reads the value from text; undefined when the text is not one. Absent: no text form. */
  parse?(text: string): T | undefined;
  /** Text forms offered as choices (e.g. a baseline's 'zeros', 'blur', 'uniform'). */
  textChoices?: readonly string[];
}

/** The spec an option of type T takes. */
export type SpecFor<T> = [T] extends [never]
  ? ValueSpec<never>
  : [T] extends [boolean]
    ? BooleanSpec
    : [T] extends [number]
      ? NumberSpec
      : [T] extends [string]
        ? string extends T
          ? StringSpec
          : ChoiceSpec<T>
        : ValueSpec<T>;

/** One spec per option of O (every key, optional or not). */
export type OptionSpecs<O> = { [K in keyof O]-?: SpecFor<NonNullable<O[K]>> };

/** Any spec. */
export type OptionSpec = NumberSpec | BooleanSpec | ChoiceSpec | StringSpec | ValueSpec;

/** Options O with the options whose spec has a constant default made required. */
export type Resolved<O, S> = O & {
  [K in keyof O & keyof S as S[K] extends { default: unknown } ? K : never]-?: NonNullable<O[K]>;
};

/** What kind of method an option belongs to, and its name: messages say "attack 'pgd': ...". */
export interface MethodName {
  kind: 'attack' | 'explainer' | 'training method' | 'job';
  name: string;
}

/** A bad option value: a {@link UserError} that also says which method and option. */
export class OptionError extends UserError {
  override name = 'UserError';
  constructor(
    readonly method: MethodName,
    readonly option: string,
    message: string,
    /** Prefix the message with "kind 'name': " (false when the message names the method itself). */
    prefix = true,
  ) {
    super(prefix ? `${method.kind} '${method.name}': ${message}` : message);
  }
}

/** What a number spec accepts, in words: "an integer >= 1", "a number > 0 and <= 1". */
export function numberRange(s: Pick<NumberSpec, 'integer' | 'min' | 'exclusiveMin' | 'max'>): string {
  if (s.min !== undefined && s.min === s.max && !s.exclusiveMin) return String(s.min);
  const parts: string[] = [];
  if (s.min !== undefined) parts.push(`${s.exclusiveMin ? '>' : '>='} ${s.min}`);
  if (s.max !== undefined) parts.push(`<= ${s.max}`);
  return `${s.integer ? 'an integer' : 'a number'}${parts.length ? ' ' + parts.join(' and ') : ''}`;
}

/** Whether `v` fits number spec `s`. */
export function numberFits(s: NumberSpec, v: unknown): v is number {
  if (typeof v !== 'number' || !Number.isFinite(v)) return false;
  if (s.integer && !Number.isInteger(v)) return false;
  if (s.min !== undefined && (s.exclusiveMin ? v <= s.min : v < s.min)) return false;
  return s.max === undefined || v <= s.max;
}

const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : (JSON.stringify(v) ?? String(v)));

/** Checks one value against its spec; an {@link OptionError} naming option and method otherwise. */
export function checkOption(method: MethodName, key: string, spec: OptionSpec, v: unknown): void {
  const fail = (what: string): never => {
    throw new OptionError(method, key, `option '${key}' must be ${what} (got ${show(v)})`);
  };
  switch (spec.type) {
    case 'number':
      if (!numberFits(spec, v)) fail(numberRange(spec));
      return;
    case 'boolean':
      if (typeof v !== 'boolean') fail('true or false');
      return;
    case 'string':
      if (typeof v !== 'string' || v === '') fail('a non-empty string');
      return;
    case 'choice':
      if (!spec.choices.includes(v as string))
        throw new OptionError(
          method,
          key,
          `unknown ${key} ${show(v)}; use one of ${spec.choices.join(', ')} (option '${key}')`,
        );
      return;
    case 'value':
      if (!spec.check(v)) fail(spec.expects);
  }
}

/**
 * Applies the defaults of `specs` to `given` and checks every option the method declares; options
 * it does not declare are left out of the result (one options object may serve several methods),
 * or refused with `strict`. Undefined values count as not given. Returns a new object.
 */
export function resolveOptions<O, S extends OptionSpecs<O>>(
  method: MethodName,
  specs: S,
  given: object | undefined,
  strict = false,
): Resolved<O, S> {
  const src = (given ?? {}) as Record<string, unknown>;
  if (strict) {
    const known = Object.keys(specs);
    for (const [k, v] of Object.entries(src))
      if (v !== undefined && !known.includes(k))
        throw new OptionError(
          method,
          k,
          `${method.kind} '${method.name}' does not use option '${k}'; ${known.length ? `it takes ${known.join(', ')}` : 'it takes no options'}`,
          false,
        );
  }
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(specs) as [string, OptionSpec][]) {
    let v = src[k];
    if (v === undefined) v = spec.default;
    if (v === undefined) {
      if (spec.required) throw new OptionError(method, k, `option '${k}' is required (${spec.doc})`);
      continue;
    }
    checkOption(method, k, spec, v);
    out[k] = v;
  }
  return out as Resolved<O, S>;
}

/**
 * The spec of an option a method refuses (a variant that fixes it, an option that does not apply):
 * giving it is an {@link OptionError} that says why.
 */
export function refused(why: string): ValueSpec<never> {
  return {
    type: 'value',
    expects: `absent (${why})`,
    check: () => false,
    doc: `not accepted: ${why}`,
    refused: true,
  };
}

/** The default of a spec as text for help: its constant default, its `defaultText`, or null. */
export function defaultText(spec: OptionSpec): string | null {
  if (spec.defaultText !== undefined) return spec.defaultText;
  if (spec.default === undefined) return null;
  return Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default);
}

/** The specs of `specs` without `keys` (a variant that fixes them, such as pgd-linf's norm). */
export function omitSpecs<S extends object, K extends keyof S>(specs: S, ...keys: K[]): Omit<S, K> {
  const out = { ...specs };
  for (const k of keys) delete out[k];
  return out;
}

/** A number or a fraction `a/b` (`8/255`) from text; null when it is neither (how forms and flags read numbers). */
export function parseNumber(v: string): number | null {
  const s = v.trim();
  const frac = /^([+-]?[\d.]+(?:e[+-]?\d+)?)\/([\d.]+(?:e[+-]?\d+)?)$/i.exec(s);
  if (frac) return Number(frac[1]) / Number(frac[2]);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) return null;
  return Number(s);
}
