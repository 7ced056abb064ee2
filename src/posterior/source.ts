/**
 * Opening a posterior from its serialisable description (src/contracts/sampling.ts), which a
 * worker thread or process receives instead of the posterior itself (closures do not cross
 * threads).
 */
import type { Posterior } from './types.js';
import { openTarget } from '../targets/open.js';
import { engineOf, layerShapes, type EngineRecord } from '../engine/index.js';
import { tensorTable } from '../targets/from-files.js';
import { gatherAt, restrictionIndices, restrictLoss } from './restrict.js';
import { posteriorFromSettings, quadraticLoss } from './posterior.js';
import type { PosteriorSource } from '../contracts/index.js';

export type { PosteriorSource };


export interface OpenedPosterior {
  posterior: Posterior;
  /** Which engine and kernel build compute the loss (null for analytic targets). */
  engine: EngineRecord | null;
  /** Frees engine memory; call when done. */
  dispose(): void;
}

export async function openPosterior(source: PosteriorSource): Promise<OpenedPosterior> {
  if (source.kind === 'quadratic') {
    const centre = Float64Array.from(source.centre);
    const loss = quadraticLoss(centre, source.n, source.curvature ? Float64Array.from(source.curvature) : undefined);
    return { posterior: posteriorFromSettings(loss, centre, source.posterior, 0), engine: null, dispose: () => {} };
  }
  const t = openTarget(source.home, source.target_id, source.impl ? { impl: source.impl } : {});
  const engine = engineOf(t.loss);
  const restrict = source.posterior.restrict;
  if (restrict === undefined) {
    return { posterior: posteriorFromSettings(t.loss, t.wStar, source.posterior, t.L0), engine, dispose: () => t.dispose() };
  }
  if (t.spec === undefined) throw new Error(`target ${source.target_id} has no layers to restrict to (restrict: ${restrict.join(', ')})`);
  const indices = restrictionIndices(tensorTable(t.meta.config, layerShapes(t.spec)), restrict, `target ${source.target_id}: restrict`);
  const loss = restrictLoss(t.loss, t.wStar, indices);
  return {
    posterior: posteriorFromSettings(loss, gatherAt(t.wStar, indices), source.posterior, t.L0),
    engine,
    dispose: () => t.dispose(),
  };
}
