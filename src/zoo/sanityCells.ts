/**
 * Table 1's sanity checks per cell, computed from a member's PGD-200 accuracies and the extra
 * measurements of zoo/measureSanity.ts with the check functions `advlens eval` uses
 * (src/metrics/sanity.ts; Carlini et al., "On Evaluating Adversarial Robustness", 2019): at each budget
 * > 0, PGD at least as strong as FGSM and stronger than random noise, and accuracy not above the
 * previous budget's; once per member (the whole row), the unbounded budget reaching ~0% accuracy.
 * A failed check marks the cell (or the row) it concerns; a finding resting on it says so.
 *
 *   memberChecks([0, 0.4], [0.96, 0.448], { cells: [null, { fgsm: 0.13, noise: 0.95 }], unbounded: null });
 *   // [{ eps: 0.4, name: 'PGD at least as strong as FGSM', passed: false, detail: 'eps 0.4: PGD-200 44.8% > fgsm 13.0%' }, ...]
 */
import { monotoneCheck, noiseCheck, singleStepCheck, unboundedCheck } from '../metrics/sanity.ts';
import { runSpec } from '../metrics/attackRun.ts';
import type { SanityCheck } from '../metrics/robustTypes.ts';
import type { SanityPair, UnboundedRecord } from './sanityRecord.ts';
import { sameEps, type RecordRun } from './cardRecord.ts';

/** The name the checks give the attack checked. */
export const CHECKED = 'PGD-200';

/** One check of one cell (or of the whole row: `eps` null). */
export interface CellCheck {
  /** The check's name, as `advlens eval` names it. */
  name: string;
  /** The budget of the cell it concerns; null for the whole row (the unbounded budget). */
  eps: number | null;
  passed: boolean;
  detail: string;
}

/** A member's extra measurements at the table's budgets (null where none) and its unbounded run. */
export interface MemberSanity {
  cells: (SanityPair | null)[];
  unbounded: UnboundedRecord | null;
}

const cellCheck = (c: SanityCheck | null, eps: number | null): CellCheck[] =>
  c ? [{ name: c.name, eps, passed: c.passed, detail: c.detail }] : [];

/**
 * The checks of one member: per budget `eps[j]` > 0 with a PGD value `pgd[j]`, FGSM and noise (where
 * measured) and the rise from the previous budget with a value; then the unbounded run (row-wide).
 */
export function memberChecks(eps: number[], pgd: (number | null)[], s: MemberSanity): CellCheck[] {
  const out: CellCheck[] = [];
  let prev = -1;
  for (const [j, e] of eps.entries()) {
    const v = pgd[j];
    if (v === null) continue;
    const acc = (x: number) => (x === e ? v : pgd[prev]!);
    if (prev >= 0 && e > 0) out.push(...cellCheck(monotoneCheck(CHECKED, [eps[prev], e], acc), e));
    prev = j;
    const m = s.cells[j];
    if (e <= 0 || !m) continue;
    out.push(
      ...cellCheck(
        singleStepCheck(
          CHECKED,
          'fgsm',
          [e],
          () => v,
          () => m.fgsm,
        ),
        e,
      ),
      ...cellCheck(
        noiseCheck(
          CHECKED,
          [e],
          'linf',
          () => v,
          () => m.noise,
        ),
        e,
      ),
    );
  }
  const u = s.unbounded;
  if (u)
    out.push(
      ...cellCheck(
        unboundedCheck(
          CHECKED,
          runSpec(CHECKED, u.eps, u.examples, { stepSize: u.stepSize, randomStart: false }),
          'linf',
          u.accuracy,
        ),
        null,
      ),
    );
  return out;
}

/** The failed checks of `checks` that concern the cell at budget `eps` > 0 (its own, and the row's); none at eps 0. */
export function cellFailures(checks: CellCheck[], eps: number): CellCheck[] {
  return eps > 0 ? checks.filter((c) => !c.passed && (c.eps === null || sameEps(c.eps, eps))) : [];
}

/** One member's sanity checks (zoo/sanityCells.ts) and where their numbers came from. */
export interface TableSanity {
  /** Every check run on the member's cells, passed or not (eps null: the whole row). */
  checks: CellCheck[];
  /** Budgets whose FGSM and noise numbers were read from the card, measured by this run, or neither (`--cached`). */
  fromCard: number[];
  measured: number[];
  unmeasured: number[];
  /** Where the unbounded run came from. */
  unbounded: 'card' | 'measured' | 'not measured';
  recorded: boolean;
  /** Which run measured which budgets' FGSM and noise, then the unbounded run (eps [] for it). */
  runs: RecordRun[];
}

/** A failed sanity check, numbered as its footnote: the cell (or row: eps null) it concerns. */
export interface SanityFailure {
  n: number;
  method: string;
  display: string;
  eps: number | null;
  name: string;
  detail: string;
}

/**
 * Numbers the failed checks of one row as footnotes (appended to `failures`): the row's own first,
 * then each cell's in column order. Returns the numbers concerning each column (the row's and the
 * cell's; a column whose budget is null or 0 has none) and the row's own.
 */
export function numberFailures(
  failures: SanityFailure[],
  row: { method: string; display: string },
  checks: CellCheck[],
  eps: (number | null)[],
): { failed: number[][]; rowFailed: number[] } {
  const number = (c: CellCheck) => {
    const f = {
      n: failures.length + 1,
      method: row.method,
      display: row.display,
      eps: c.eps,
      name: c.name,
      detail: c.detail,
    };
    failures.push(f);
    return f.n;
  };
  const rowFailed = checks.filter((c) => !c.passed && c.eps === null).map(number);
  const own = eps.map((e) =>
    e === null ? [] : checks.filter((c) => !c.passed && c.eps !== null && sameEps(c.eps, e)).map(number),
  );
  return {
    failed: eps.map((e, j) =>
      e !== null && cellFailures(checks, e).length ? [...rowFailed, ...own[j]] : [],
    ),
    rowFailed,
  };
}

/** The marker of failed sanity checks: their footnote numbers after a warning sign ('' when none). */
export const failMarker = (ns: number[]) => (ns.length ? ` ⚠${ns.join(',')}` : '');
