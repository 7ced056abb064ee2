/**
 * The sample stage's output, read by the diagnose stage and the report: runs/<id>/manifest.json
 * and the columns of runs/<id>/traces.feather.
 */
import { z } from 'zod';
import { jsonObject } from './json.js';
import { burnIn, chainFailure, posteriorSettings } from './sampling.js';
import { ENGINE_IMPLS, ENGINE_KERNELS } from '../engine/types.js';

const nonNegInt = z.number().int().nonnegative();
const num = z.number();

/** Trace columns every run has (one row per chain and recorded step); samplers add their own. */
export const TRACE_COLUMNS = ['chain', 'draw', 'step', 'Ln', 'llc', 'cumulative_fge', 'time_s'] as const;

export const chainRecord = z.strictObject({
  chain: nonNegInt,
  /** The chain's tuned values (the sampler's own keys, e.g. step_size). */
  tuned: jsonObject,
  tune_fge: num,
  sample_fge: num,
  /** Work of the full-data L_n evaluations (measurement, not sampling). */
  eval_fge: num,
  tune_time_s: num,
  sample_time_s: num,
  steps_done: nonNegInt,
  failure: chainFailure.nullable(),
  /** True when the chain ended at its time budget, before its schedule's last step. */
  stopped_by_budget: z.boolean().optional(),
});
export type ChainRecord = z.output<typeof chainRecord>;

export const runManifest = z.strictObject({
  run_id: z.string(),
  target_id: z.string(),
  /** The canonical sampler name (an alias resolves to it). */
  sampler: z.string(),
  /** The name the experiment asked for (possibly an alias). */
  requested_sampler: z.string(),
  seed: nonNegInt,
  /** The sampler's resolved config (its schema's keys). */
  hyperparameters: jsonObject,
  posterior_settings: posteriorSettings,
  n: z.number().int().positive(),
  dim: z.number().int().positive(),
  beta: num,
  gamma: num,
  n_beta: num,
  L0: num,
  /** Chains the run was asked for. */
  chains: z.number().int().positive(),
  chain_settings: z.strictObject({ count: z.number().int().positive(), init_noise: num, burn_in: burnIn.nullable() }),
  schedule: z.strictObject({ steps: z.number().int().positive(), burn_in: nonNegInt, eval_every: z.number().int().positive() }),
  /** Burn-in in sampler steps. */
  burn_in: nonNegInt,
  /** false: the traces hold kept draws only (the runner drops the burn-in); true: discard burn_in rows. */
  traces_include_burn_in: z.boolean(),
  draws_per_chain: z.array(nonNegInt),
  trace_columns: z.array(z.string()),
  per_chain: z.array(chainRecord),
  work: z.strictObject({ unit: z.string(), total_fge: num, tune_fge: num, sample_fge: num, eval_fge: num }),
  total_fge: num,
  timings: z.strictObject({ wall_s: num, tune_s: num, sample_s: num, threads: z.number().int().positive() }),
  failures: z.array(chainFailure),
  /**
   * The time budget the run had (absent: none). `source`: the sampler entry's time_budget or the
   * workflow's; `stopped`: some chain ended at it, before its schedule's last step, so the run
   * has fewer draws than its schedule asked for.
   */
  budget: z
    .strictObject({
      time_budget_s: z.number().positive(),
      source: z.enum(['sampler', 'workflow']),
      stopped: z.boolean(),
      /** Chains that ended at the budget (with the draws they had). */
      chains_stopped: z.array(nonNegInt),
    })
    .optional(),
  /**
   * How the work budget sized the default run lengths (absent: they were not resized): the budget
   * and the planned work per chain in GFLOP, the factor, and each key's default and used value.
   */
  lengths_budget: z
    .strictObject({
      work_budget_gflop: z.number().positive(),
      planned_gflop: z.number().positive(),
      factor: z.number().positive(),
      keys: z.record(z.string(), z.strictObject({ default: z.number(), used: z.number() })),
    })
    .optional(),
  /** Which engine and kernel build computed the numbers (null for analytic targets; absent in older runs). */
  engine: z.strictObject({ impl: z.enum(ENGINE_IMPLS), kernels: z.enum(ENGINE_KERNELS) }).nullable().optional(),
  created_at: z.string(),
  code_version: z.string(),
});
export type RunManifest = z.output<typeof runManifest>;
