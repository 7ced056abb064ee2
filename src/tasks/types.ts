/**
 * What a task is: a pure function of (paths, ids, config) that writes files under the store
 * and returns a small JSON result. The same entry points run in a worker thread, a child
 * process or a SLURM job, so specs and results must be plain JSON.
 */

/** One target entry of an experiment, already resolved (presets expanded, overrides merged). */
export type TargetConfig = Record<string, unknown>;

/** One sampler entry of an experiment: `{name, seed, overrides, posterior?, chains?}`. */
export interface SamplerEntry {
  name: string;
  seed: number;
  overrides?: Record<string, unknown>;
  posterior?: Record<string, unknown>;
  chains?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface BuildTaskSpec {
  kind: 'build';
  home: string;
  target: TargetConfig;
}
export interface BuildTaskResult {
  target_id: string;
  dir: string;
  /** True when a complete target already existed and nothing was built. */
  reused: boolean;
}

export interface SampleTaskSpec {
  kind: 'sample';
  home: string;
  target_id: string;
  sampler: SamplerEntry;
  /** Posterior/chain settings of the target entry, overridden by the sampler entry's own. */
  target_posterior?: Record<string, unknown>;
  target_chains?: Record<string, unknown>;
}
export interface SampleTaskResult {
  run_id: string;
  dir: string;
  reused: boolean;
}

export interface DiagnoseTaskSpec {
  kind: 'diagnose';
  run_dir: string;
  force?: boolean;
}
export interface DiagnoseTaskResult {
  run_dir: string;
  llc_mean: number | null;
  llc_mcse: number | null;
  r_hat: number | null;
  ess_bulk: number | null;
  warnings: string[];
}

export type TaskSpec = BuildTaskSpec | SampleTaskSpec | DiagnoseTaskSpec;
