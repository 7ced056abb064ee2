// The build task: a pure function of (store home, resolved target config) that any executor runs.
import type { BuildTaskResult, BuildTaskSpec } from '../contracts/index.js';
import { buildTarget, type BuildOptions } from '../targets/build.js';

/** Builds (or reuses) the target of `spec.target`, a config that loadExperiment resolved. */
export async function buildTask(spec: BuildTaskSpec, opts: BuildOptions = {}): Promise<BuildTaskResult> {
  const r = await buildTarget(spec.home, spec.target, opts);
  return { target_id: r.target_id, dir: r.dir, reused: r.reused };
}
