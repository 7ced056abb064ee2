/**
 * Progress of a running task: what a worker (thread, child process, SLURM job) reports while it
 * trains a target or tunes and samples a run, and what the coordinator shows. Events travel as
 * JSON (a worker thread's message port, or one line each in the task's progress file), so every
 * number is finite or null.
 *
 * Emitters throttle by time (at least PROGRESS_INTERVAL_MS apart, and always at the end of a
 * stage), so a long stage is never silent for more than that interval plus one step of its work.
 */
import { z } from 'zod';

const nonNegInt = z.number().int().nonnegative();
const seconds = z.number().nonnegative();

/** Default minimum time between two progress events of one stage. */
export const PROGRESS_INTERVAL_MS = 1000;

/** Training the student to w* (the build stage). */
export const trainProgressEvent = z.strictObject({
  stage: z.literal('train'),
  target_id: z.string(),
  /** Updates done, of at most `steps` (early stopping may end sooner). */
  step: nonNegInt,
  steps: nonNegInt,
  loss: z.number(),
  /** |dL_n/dw| at the last update. */
  grad_norm: z.number().nullable(),
  elapsed_s: seconds,
  /** Time to `steps` at the rate so far (null before it can be estimated). */
  eta_s: seconds.nullable(),
  /** 'polish': the L-BFGS iterations after the optimiser (step counts those). */
  phase: z.literal('polish').optional(),
});
export type TrainProgressEvent = z.output<typeof trainProgressEvent>;

/** A chain's tuning (adaptation) before it samples. */
export const tuneProgressEvent = z.strictObject({
  stage: z.literal('tune'),
  sampler: z.string(),
  chain: nonNegInt,
  chains: z.number().int().positive(),
  /** Work of this chain's tuning so far, in full-gradient equivalents. */
  fge: z.number().nonnegative(),
  elapsed_s: seconds,
});
export type TuneProgressEvent = z.output<typeof tuneProgressEvent>;

/** Sampling: one chain's position in its schedule, and the whole run's. */
export const sampleProgressEvent = z.strictObject({
  stage: z.literal('sample'),
  sampler: z.string(),
  chain: nonNegInt,
  chains: z.number().int().positive(),
  /** Steps this chain has done, of `steps` (burn-in included). */
  step: nonNegInt,
  steps: nonNegInt,
  /** Sampling steps per second of this chain so far. */
  steps_per_s: z.number().nonnegative(),
  /** Running mean of this chain's λ̂ draws (null before the first). */
  llc_mean: z.number().nullable(),
  /** Fraction of the run's sampling steps done, over all its chains. */
  fraction: z.number().min(0).max(1),
  elapsed_s: seconds,
  /** Time until every chain has sampled, at the rate so far (null before it can be estimated). */
  eta_s: seconds.nullable(),
});
export type SampleProgressEvent = z.output<typeof sampleProgressEvent>;

export const progressEvent = z.discriminatedUnion('stage', [trainProgressEvent, tuneProgressEvent, sampleProgressEvent]);
export type ProgressEvent = z.output<typeof progressEvent>;

/** An event as it crosses to the coordinator: with the worker's wall clock (Unix ms) when it was emitted. */
export const progressRecord = z.strictObject({
  t_ms: z.number(),
  event: progressEvent,
});
export type ProgressRecord = z.output<typeof progressRecord>;

/** Where a stage sends its progress (the task entry points forward it to the coordinator). */
export type ProgressSink = (event: ProgressEvent) => void;

function duration(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s - 60 * m)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function num(x: number): string {
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-2 || a >= 1e5) ? x.toExponential(3) : String(Number(x.toPrecision(4)));
}

/** One line for logs and the workflow view. */
export function describeProgress(e: ProgressEvent): string {
  switch (e.stage) {
    case 'train':
      return `${e.phase === 'polish' ? 'polishing w* (L-BFGS) iteration' : 'training step'} ${e.step}/${e.steps}, loss ${num(e.loss)}` +
        `${e.grad_norm === null ? '' : `, |grad| ${num(e.grad_norm)}`}, ${duration(e.elapsed_s)}` +
        `${e.eta_s === null ? '' : `, ETA ${duration(e.eta_s)}`}`;
    case 'tune':
      return `${e.sampler} tuning chain ${e.chain + 1}/${e.chains}: ${num(e.fge)} FGE, ${duration(e.elapsed_s)}`;
    case 'sample':
      return `${e.sampler} sampling ${Math.floor(100 * e.fraction)}% (chain ${e.chain + 1}/${e.chains} step ${e.step}/${e.steps}, ` +
        `${num(e.steps_per_s)} steps/s)${e.llc_mean === null ? '' : `, λ̂ ${num(e.llc_mean)}`}, ${duration(e.elapsed_s)}` +
        `${e.eta_s === null ? '' : `, ETA ${duration(e.eta_s)}`}`;
  }
}
