/**
 * Reading `pathways.json` (src/report/pathways.ts) in any version a reader may meet:
 * - `advlens-pathways/2` (current): the provenance is the shared one of src/report/provenance.ts,
 *   `{ command, model, data, atlas, seconds, versions, measuredAt }`;
 * - `advlens-pathways/1` (before): the same document with a hand-built provenance
 *   `{ model, data, command, versions, created }`. It is read as /2: `created` becomes `measuredAt`
 *   (the same ISO time), and `atlas` is null.
 * Nothing else differs between the two. `neurons.json` (`advlens-pathways-neurons/1`) and
 * `edges.json` (`advlens-pathways-edges/1`) did not change.
 *
 *   const doc = readPathwaysJson(JSON.parse(text));   // doc.format === 'advlens-pathways/2'
 */
import { UserError } from '../errors.ts';
import { PATHWAYS_FORMAT, type PathwaysResult } from './pathways.ts';

/** The first version of the pathways document, read by {@link readPathwaysJson}. */
export const PATHWAYS_FORMAT_V1 = 'advlens-pathways/1';

/** The provenance of a `pathways.json` document, as version 2 writes it. */
export interface PathwaysProvenance {
  command: string | null;
  model: { dir: string; name: string; architecture: string };
  data: { original: string; target: string | null };
  /** The atlas the neuron images were taken from, if any. */
  atlas: Record<string, unknown> | null;
  seconds?: number;
  versions: Record<string, string>;
  measuredAt: string;
}

/** A `pathways.json` document: the pathways result without neurons and edges, and its provenance. */
export type PathwaysDocument = Omit<PathwaysResult, 'neurons' | 'edges'> & {
  provenance: PathwaysProvenance;
};

/**
 * A parsed `pathways.json` of version 1 or 2, as version 2 (a new object; the input is not changed).
 * A {@link UserError} for anything else.
 */
export function readPathwaysJson(doc: unknown): PathwaysDocument {
  const d = doc as { format?: unknown; provenance?: Record<string, unknown> } | null;
  const format = d && typeof d === 'object' ? d.format : undefined;
  if (format === PATHWAYS_FORMAT) return d as unknown as PathwaysDocument;
  if (format !== PATHWAYS_FORMAT_V1)
    throw new UserError(
      `not a pathways document (format ${JSON.stringify(format)}); expected ${PATHWAYS_FORMAT} or ${PATHWAYS_FORMAT_V1}`,
    );
  const { created, command, model, data, versions, ...rest } = d!.provenance ?? {};
  return {
    ...(d as object),
    format: PATHWAYS_FORMAT,
    provenance: {
      command: (command as string | undefined) ?? null,
      model,
      data,
      atlas: null,
      ...rest,
      versions,
      measuredAt: created,
    },
  } as unknown as PathwaysDocument;
}
