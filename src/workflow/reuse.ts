/**
 * Reuse checks the coordinator makes before submitting a task: when the content-addressed
 * artifact a task would produce is already complete in the store, the task is not run at all
 * (no process, no job), so rerunning a finished workflow does no work. Each check answers
 * exactly what the task itself would answer when it reuses (the same contract, reused: true),
 * using the stage modules' own completeness tests; anything doubtful returns undefined and the
 * task runs (and decides for itself).
 *
 * Stage modules are imported lazily and only when an artifact directory exists, so a fresh
 * workflow pays nothing for these checks.
 */
import { existsSync } from 'node:fs';
import { runFiles, runDir, runsDir, targetDir } from '../store/layout.js';
import type {
  BuildTaskResult, BuildTaskSpec, DiagnoseTaskSpec, Diagnosis, SampleTaskResult, SampleTaskSpec,
} from '../contracts/index.js';

export async function reusedBuild(spec: BuildTaskSpec, targetId: string): Promise<BuildTaskResult | undefined> {
  const dir = targetDir(spec.home, targetId);
  if (!existsSync(dir)) return undefined;
  const { isCompleteTarget } = await import('../targets/build.js');
  return isCompleteTarget(dir, targetId) ? { target_id: targetId, dir, reused: true } : undefined;
}

export async function reusedSample(spec: SampleTaskSpec): Promise<SampleTaskResult | undefined> {
  if (!existsSync(runsDir(spec.home))) return undefined;
  const { resolveSampleSpec, readRunManifest } = await import('../tasks/sample.js');
  const resolved = await resolveSampleSpec(spec);
  const dir = runDir(spec.home, resolved.run_id);
  const files = runFiles(dir);
  if (!existsSync(files.manifest) || !existsSync(files.traces)) return undefined;
  const manifest = readRunManifest(dir);
  // A run an earlier workflow's time budget cut short is redone (the task says so too).
  if (manifest.budget?.stopped && manifest.budget.source === 'workflow') return undefined;
  const failures = manifest.failures;
  // A run whose every chain failed is an error the task reports; let it.
  if (failures.length >= resolved.chains.count) return undefined;
  return { run_id: resolved.run_id, dir, reused: true, failures };
}

export async function reusedDiagnosis(spec: DiagnoseTaskSpec): Promise<Diagnosis | undefined> {
  if (spec.force) return undefined;
  if (!existsSync(runFiles(spec.run_dir).analysis)) return undefined;
  const { storedDiagnosis } = await import('../tasks/diagnose.js');
  return storedDiagnosis(spec.run_dir);
}
