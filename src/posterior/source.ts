/**
 * Opening a posterior from its serialisable description (src/contracts/sampling.ts), which a
 * worker thread or process receives instead of the posterior itself (closures do not cross
 * threads).
 */
import type { Posterior } from './types.js';
import { openTarget } from '../targets/open.js';
import { engineOf, type EngineRecord } from '../engine/index.js';
import { posteriorFromSettings, quadraticLoss } from './posterior.js';
import type { PosteriorSource } from '../contracts/index.js';

export type { PosteriorSource };

/** What the targets module's openTarget returns that we use. */
interface OpenedTarget {
  wStar: Float64Array;
  loss: import('../engine/types.js').LossFunction;
  L0: number;
  n: number;
  dispose?: () => void;
}

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
  const t: OpenedTarget = openTarget(source.home, source.target_id, source.impl ? { impl: source.impl } : {});
  const posterior = posteriorFromSettings(t.loss, t.wStar, source.posterior, t.L0);
  return {
    posterior,
    engine: engineOf(t.loss),
    dispose: () => t.dispose?.(),
  };
}
