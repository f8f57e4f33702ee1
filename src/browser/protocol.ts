/** The messages between {@link createWorkerRunner} (the page) and `worker.ts` (the Web Worker). */
import type { AttackOptions } from '../attacks/types.ts';
import type { BackendName } from '../engine/backend.ts';
import type { ExplainOptions } from '../explain/types.ts';
import type { ModelCard } from '../models/card.ts';
import type { WasmPaths } from './backend.ts';
import type { Pixels } from './image.ts';

/** What the page asks; `id` pairs each request with its reply. */
export type Request = { id: number } & (
  | { op: 'init'; backend: BackendName; wasmPaths?: WasmPaths }
  | { op: 'load'; url: string; preset?: string }
  | { op: 'attack'; name: string; images: Pixels; options: AttackOptions; labels?: Int32Array }
  | { op: 'explain'; method: string; images: Pixels; options: ExplainOptions; labels?: Int32Array }
);

/** The worker's reply: the value, or the error (a UserError's message is the user's to read). */
export type Reply = { id: number } & (
  { ok: true; value: unknown } | { ok: false; message: string; user: boolean }
);

/** The model a runner holds, as the page sees it. */
export interface ModelInfo {
  name: string;
  labels: string[];
  /** [H, W, C] the model takes. */
  inputShape: [number, number, number];
  card: ModelCard;
}
