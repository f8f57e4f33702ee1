import { UserError } from '../errors.ts';

/** Learning-rate schedules: `constant`, `cosine` (to 0 over the run), `step` (x `gamma` at each milestone epoch). */
export interface Schedule {
  kind: 'constant' | 'cosine' | 'step';
  milestones?: number[];
  gamma?: number;
}

/**
 * Parses `constant`, `cosine`, or `step:E1,E2[@GAMMA]` (for example `step:10,15@0.1`).
 */
export function parseSchedule(s: string): Schedule {
  if (s === 'constant' || s === 'cosine') return { kind: s };
  const m = /^step:([\d,]+)(?:@([\d.eE-]+))?$/.exec(s);
  if (m) {
    const milestones = m[1].split(',').filter(Boolean).map(Number);
    const gamma = m[2] === undefined ? 0.1 : Number(m[2]);
    if (milestones.some((v) => !Number.isInteger(v) || v < 1) || !(gamma > 0)) {
      throw new UserError(`bad schedule '${s}': milestones must be epochs >= 1 and gamma > 0`);
    }
    return { kind: 'step', milestones, gamma };
  }
  throw new UserError(`unknown learning-rate schedule '${s}'; use constant, cosine or step:E1,E2@GAMMA`);
}

/** The learning rate at fractional epoch `t` (0 = start) of a run of `epochs` epochs. */
export function learningRateAt(base: number, sched: Schedule, t: number, epochs: number): number {
  if (sched.kind === 'cosine') return base * 0.5 * (1 + Math.cos((Math.PI * Math.min(t, epochs)) / epochs));
  if (sched.kind === 'step') {
    const passed = (sched.milestones ?? []).filter((m) => t >= m).length;
    return base * Math.pow(sched.gamma ?? 0.1, passed);
  }
  return base;
}
