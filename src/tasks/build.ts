// The build task: a pure function of (store home, target config) that any executor runs.
import type { BuildTaskResult, BuildTaskSpec } from './types.js';
import type { ResolvedTargetConfig } from '../config/resolve.js';
import { resolveTargetObject } from '../config/experiment.js';
import { buildTarget, type BuildOptions } from '../targets/build.js';
import { isPlainObject } from '../config/load.js';

/** A config that loadExperiment already resolved (as opposed to a raw target entry). */
function isResolved(t: Record<string, unknown>): boolean {
  const model = t.model;
  return isPlainObject(model) && typeof model.family === 'string' && 'training' in t && typeof t.dtype === 'string'
    && !('overrides' in t);
}

/**
 * Builds (or reuses) the target of `spec.target`: either a resolved config
 * (ResolvedTarget.config from loadExperiment) or a raw target entry as written in a file.
 */
export async function buildTask(spec: BuildTaskSpec, opts: BuildOptions = {}): Promise<BuildTaskResult> {
  if (spec.kind !== 'build') throw new Error(`buildTask got a '${String(spec.kind)}' task`);
  const config = isResolved(spec.target)
    ? (spec.target as ResolvedTargetConfig)
    : resolveTargetObject(spec.target, '<build task target>');
  const r = await buildTarget(spec.home, config, opts);
  return { target_id: r.target_id, dir: r.dir, reused: r.reused };
}
