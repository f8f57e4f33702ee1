/**
 * Provenance: what produced a result (the command, the inputs and options, the software versions,
 * when, how long). Every command and report builds it with {@link provenance}, so every result
 * file carries the same fields in the same order.
 */
import { versions } from '../version.ts';

/** The fields every provenance carries, after the caller's own. */
export interface ProvenanceStamp {
  /** Wall-clock seconds of the work, when measured. */
  seconds?: number;
  versions: Record<string, string>;
  /** ISO 8601 time the result was produced. */
  measuredAt: string;
}

/** Options of {@link provenance}. */
export interface ProvenanceOptions {
  /** Seconds the work took (recorded when given). */
  seconds?: number;
  /** The time to record (default now). */
  now?: Date;
}

/**
 * `{ command, ...fields, seconds?, versions, measuredAt }`: the caller's fields (inputs, options,
 * models) in the caller's order, the command that produced them first (when given: `null` for a
 * library call), then the stamp. `versions` is {@link versions} (advlens, tfjs, backend, node).
 */
export function provenance<C extends string | null, T extends Record<string, unknown>>(
  command: C,
  fields: T,
  o: ProvenanceOptions = {},
): { command: C } & T & ProvenanceStamp {
  return {
    command,
    ...fields,
    ...(o.seconds !== undefined && { seconds: o.seconds }),
    versions: versions(),
    measuredAt: (o.now ?? new Date()).toISOString(),
  };
}

/** The command line as provenance records it: `advlens ` and the arguments, space-separated. */
export function commandLine(args: readonly string[]): string {
  return `advlens ${args.join(' ')}`;
}
