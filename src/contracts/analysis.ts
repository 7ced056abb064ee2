/**
 * The diagnose stage's output: runs/<id>/analysis.json (the contract keys first, then
 * extensions; valid JSON, never NaN or Infinity), and the diagnosis a diagnose task returns.
 */
import { z } from 'zod';

const stat = z.number().nullable();
const nonNegInt = z.number().int().nonnegative();

export const analysisFile = z.strictObject({
  target_id: z.string().nullable(),
  sampler: z.string().nullable(),
  llc_mean: stat,
  llc_std: stat,
  llc_mcse: stat,
  r_hat: stat,
  ess_bulk: stat,
  ess_tail: stat,
  /** Chains the estimate uses (failed chains excluded). */
  chains: nonNegInt,
  /** Kept draws per chain (after burn-in). */
  draws: nonNegInt,
  burn_in: nonNegInt,
  n: stat,
  beta: stat,
  gamma: stat,
  L0: stat,
  total_fge: stat,
  walltime_s: stat,
  warnings: z.array(z.string()),
  // Extensions.
  run_id: z.string(),
  /** Why each null statistic is null. */
  reasons: z.record(z.string(), z.string()),
  chains_requested: z.number().int().nullable(),
  chain_ids: z.array(nonNegInt),
  failed_chains: z.array(z.strictObject({ chain: z.number().int(), error: z.string() })),
  /** Work-normalised variance: llc_std^2 / ess_bulk * total_fge (smaller is better). */
  wnv: stat,
  /** Means of the first and second half of the kept draws and the MCSE of their difference. */
  drift: z.strictObject({ first_half: stat, second_half: stat, se_diff: stat }),
  acceptance_mean: stat,
  divergences: nonNegInt,
  bfmi: z.array(z.number()).nullable(),
  analysis_version: z.number().int(),
  /** sha256 of the inputs (manifest, traces, target meta, versions): the reuse key. */
  inputs_hash: z.string(),
  plots: z.array(z.string()),
});
export type Analysis = z.output<typeof analysisFile>;

/** What a diagnose task returns (also when it reuses a stored, up-to-date analysis). */
export const diagnosis = z.strictObject({
  run_dir: z.string(),
  llc_mean: stat,
  llc_mcse: stat,
  r_hat: stat,
  ess_bulk: stat,
  warnings: z.array(z.string()),
  /** True when a stored, up-to-date analysis was returned without recomputing. */
  reused: z.boolean(),
  analysis_path: z.string(),
  /** Plot files relative to the run dir, e.g. "plots/trace_llc.svg". */
  plots: z.array(z.string()),
});
export type Diagnosis = z.output<typeof diagnosis>;
