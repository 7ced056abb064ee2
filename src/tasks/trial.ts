/**
 * The trial task of `workflow tune`: one sample run (content-addressed, so a complete run is
 * reused) and its estimate and cost, without the diagnose stage's files and plots: a study runs
 * many trials, and the tuner needs only λ̂, its error and the work it took.
 */
import { analyzeRun } from '../analysis/index.js';
import { loadRun } from '../analysis/run.js';
import type { SampleTaskSpec, TrialTaskResult, TrialTaskSpec } from '../contracts/index.js';
import { sampleTask } from './sample.js';

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function trialTask(spec: TrialTaskSpec): Promise<TrialTaskResult> {
  const { kind: _kind, ...rest } = spec;
  const sampleSpec: SampleTaskSpec = { kind: 'sample', ...rest };
  // One thread per trial: the study's concurrency is its batch of trials.
  const run = await sampleTask(sampleSpec, { threads: 1 });
  const loaded = loadRun(run.dir);
  const analysis = analyzeRun(loaded, { inputsHash: '' });
  const m = loaded.manifest;
  const given = m.hyperparameters.step_size;
  const tuned = m.per_chain.flatMap((c) => (typeof c.tuned.step_size === 'number' ? [c.tuned.step_size] : []));
  return {
    run_id: run.run_id,
    run_dir: run.dir,
    reused: run.reused,
    llc_mean: analysis.llc_mean,
    llc_mcse: analysis.llc_mcse,
    r_hat: analysis.r_hat,
    total_fge: m.total_fge,
    walltime_s: m.timings.wall_s,
    n: m.n,
    beta: m.beta,
    gamma: m.gamma,
    step_size: typeof given === 'number' ? given : median(tuned),
    warnings: analysis.warnings,
  };
}
