/**
 * Reuse checks the coordinator makes before submitting a task: when the content-addressed
 * artifact a task would produce is already complete in the store, the task is not run at all
 * (no process, no job), so rerunning a finished workflow does no work. Each check answers
 * exactly what the task itself would answer when it reuses (same result shape, reused: true),
 * using the stage modules' own completeness tests; anything doubtful returns undefined and the
 * task runs (and decides for itself).
 *
 * Stage modules are imported lazily and only when an artifact directory exists, so a fresh
 * workflow pays nothing for these checks.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { targetDir } from '../store/index.js';
import type { BuildTaskResult, BuildTaskSpec, DiagnoseTaskResult, DiagnoseTaskSpec, SampleTaskResult, SampleTaskSpec } from '../tasks/types.js';

export async function reusedBuild(spec: BuildTaskSpec, targetId: string): Promise<BuildTaskResult | undefined> {
  const dir = targetDir(spec.home, targetId);
  if (!existsSync(dir)) return undefined;
  const { isCompleteTarget } = await import('../targets/build.js');
  return isCompleteTarget(dir, targetId) ? { target_id: targetId, dir, reused: true } : undefined;
}

export async function reusedSample(spec: SampleTaskSpec): Promise<(SampleTaskResult & { failures: unknown[] }) | undefined> {
  if (!existsSync(join(spec.home, 'runs'))) return undefined;
  const { resolveSampleSpec, MANIFEST_FILE, TRACES_FILE } = await import('../tasks/sample.js');
  const { runDir } = await import('../store/index.js');
  const resolved = await resolveSampleSpec(spec);
  const dir = runDir(spec.home, resolved.run_id);
  if (!existsSync(join(dir, MANIFEST_FILE)) || !existsSync(join(dir, TRACES_FILE))) return undefined;
  const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as { failures?: unknown[] };
  const failures = manifest.failures ?? [];
  // A run whose every chain failed is an error the task reports; let it.
  if (failures.length >= resolved.chains.count) return undefined;
  return { run_id: resolved.run_id, dir, reused: true, failures };
}

interface StoredAnalysis {
  inputs_hash?: string;
  plots?: unknown;
  llc_mean: number | null;
  llc_mcse: number | null;
  r_hat: number | null;
  ess_bulk: number | null;
  warnings: string[];
}

export async function reusedDiagnosis(spec: DiagnoseTaskSpec): Promise<(DiagnoseTaskResult & { reused: true }) | undefined> {
  if (spec.force) return undefined;
  const { analysisPath, diagnoseInputsHash } = await import('../tasks/diagnose.js');
  const path = analysisPath(spec.run_dir);
  if (!existsSync(path)) return undefined;
  const stored = JSON.parse(readFileSync(path, 'utf8')) as StoredAnalysis;
  // The same test diagnoseTask applies: inputs hash (which covers the analysis and code
  // versions) matches and every plot it lists exists.
  if (stored.inputs_hash !== diagnoseInputsHash(spec.run_dir)) return undefined;
  if (!Array.isArray(stored.plots) || !stored.plots.every((p) => typeof p === 'string' && existsSync(join(spec.run_dir, p)))) return undefined;
  return {
    run_dir: spec.run_dir,
    llc_mean: stored.llc_mean,
    llc_mcse: stored.llc_mcse,
    r_hat: stored.r_hat,
    ess_bulk: stored.ess_bulk,
    warnings: stored.warnings,
    reused: true,
  };
}
