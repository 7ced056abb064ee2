/**
 * The LLC of a network trained elsewhere: its files become a stored target (build), each
 * requested posterior (the whole network, a restriction, or one per module) is sampled and
 * diagnosed like any run, so `diagnose`, `report` and workflows see ordinary runs.
 */
import { buildTarget } from '../targets/build.js';
import { resolveFileTarget, tensorTable, type FileTargetRequest } from '../targets/from-files.js';
import { sampleTask } from './sample.js';
import { diagnoseTask, readAnalysis } from './diagnose.js';
import { layerShapes } from '../engine/spec.js';
import { studentSpec } from '../targets/networks.js';
import { modulesOf, restrictionIndices, type NamedTensor } from '../posterior/restrict.js';
import { openTarget } from '../targets/open.js';
import { GRAD_NORM_WARN } from '../targets/build.js';
import { targetWarnings, trustOf } from '../workflow/trust.js';
import { readContractFile, targetMeta, type Analysis, type Diagnosis, type SamplerEntry } from '../contracts/index.js';
import { targetFiles } from '../store/layout.js';
import type { EngineImpl } from '../engine/types.js';
import type { ProgressSink } from '../contracts/index.js';

export interface LlcRequest extends FileTargetRequest {
  home: string;
  sampler: SamplerEntry;
  /** Tensor-name prefixes to restrict the posterior to. */
  restrict?: string[];
  /** One restricted estimate per module (instead of one over `restrict` or the whole network). */
  perLayer?: boolean;
  threads?: number;
  impl?: EngineImpl;
  onProgress?: ProgressSink;
  /** Called once the target is resolved and stored, before sampling. */
  onTarget?: (t: { target_id: string; dir: string; notes: string[]; warnings: string[] }) => void;
}

export interface LlcRow {
  /** The module of a per-layer row, the restriction of a restricted run, null for the whole network. */
  module: string | null;
  /** Number of sampled parameters. */
  params: number;
  run_dir: string;
  diagnosis: Diagnosis;
  analysis: Analysis;
  /** "ok" or "warn (N): reason", from the analysis and the target's warnings. */
  trust: string;
}

export interface LlcResult {
  target_id: string;
  target_dir: string;
  notes: string[];
  rows: LlcRow[];
}

export async function llcFromFiles(req: LlcRequest): Promise<LlcResult> {
  // Everything about the inputs is checked here, before the store is touched.
  const { config, notes } = resolveFileTarget(req);
  const spec = studentSpec(config.model)!;
  const table = tensorTable(config, layerShapes(spec));
  const restrictions: (string[] | null)[] = req.perLayer
    ? modulesOf(table).map((m) => [m])
    : req.restrict !== undefined && req.restrict.length > 0
      ? [req.restrict]
      : [null];
  const sizes = restrictions.map((r) => (r === null ? table.reduce((a, t) => a + t.size, 0) : restrictionIndices(table, r, '--restrict').length));
  if (req.sampler.posterior?.restrict !== undefined && restrictions.some((r) => r !== null)) {
    throw new Error('give the restriction once: --restrict/--per-layer, or posterior.restrict in the sampler config, not both');
  }
  const built = await buildTarget(req.home, config, req.impl ? { impl: req.impl } : {});
  req.onTarget?.({ target_id: built.target_id, dir: built.dir, notes, warnings: built.warnings });
  const meta = readContractFile(targetFiles(built.dir).meta, targetMeta, 'target meta');
  const restrictedGradNorms = restrictions.some((r) => r !== null) ? gradientNorms(req, built.target_id, table, restrictions) : [];
  const rows: LlcRow[] = [];
  for (const [i, r] of restrictions.entries()) {
    const entry: SamplerEntry = r === null ? req.sampler : { ...req.sampler, posterior: { ...req.sampler.posterior, restrict: r } };
    const sampled = await sampleTask(
      { kind: 'sample', home: req.home, target_id: built.target_id, sampler: entry },
      {
        ...(req.onProgress ? { onProgress: req.onProgress } : {}),
        ...(req.threads ? { threads: req.threads } : {}),
        ...(req.impl ? { impl: req.impl } : {}),
      },
    );
    const outcome = await diagnoseTask({ kind: 'diagnose', run_dir: sampled.dir });
    const analysis = readAnalysis(outcome.run_dir);
    const trust = trustOf([...restrictedTargetWarnings(targetWarnings(meta), r, restrictedGradNorms[i]), ...analysis.warnings]).label;
    rows.push({ module: r === null ? null : r.join(','), params: sizes[i]!, run_dir: outcome.run_dir, diagnosis: outcome, analysis, trust });
  }
  return { target_id: built.target_id, target_dir: built.dir, notes, rows };
}

/** |dL_n/dw| at w* along each restriction's parameters (NaN for the unrestricted row). */
function gradientNorms(req: LlcRequest, targetId: string, table: NamedTensor[], restrictions: (string[] | null)[]): number[] {
  const t = openTarget(req.home, targetId, req.impl ? { impl: req.impl } : {});
  try {
    const grad = new Float64Array(t.dim);
    t.loss.lossAndGrad(t.wStar, grad);
    return restrictions.map((r) => {
      if (r === null) return Number.NaN;
      let s = 0;
      for (const i of restrictionIndices(table, r)) s += grad[i]! ** 2;
      return Math.sqrt(s);
    });
  } finally {
    t.dispose();
  }
}

/**
 * A restricted posterior needs w* to be a critical point along the sampled parameters only: the
 * target's "w* not a minimum" (a statement about all parameters) is replaced by the verdict on
 * the restricted gradient.
 */
function restrictedTargetWarnings(warnings: string[], restriction: string[] | null, norm: number | undefined): string[] {
  if (restriction === null || norm === undefined || Number.isNaN(norm)) return warnings;
  const rest = warnings.filter((w) => !/^w\* not a minimum/.test(w));
  if (norm <= GRAD_NORM_WARN) return rest;
  return [
    ...rest,
    `w* not a minimum along ${restriction.join(',')}: the gradient norm of L_n there is ${norm.toExponential(2)} > ${GRAD_NORM_WARN}, ` +
      'so the restricted LLC estimate is biased',
  ];
}
