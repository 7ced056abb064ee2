/**
 * A serialisable description of a posterior, so that a worker thread or process can rebuild
 * it (closures do not cross threads): a stored target, or the analytic quadratic.
 */
import type { EngineImpl } from '../engine/types.js';
import type { Posterior } from '../samplers/types.js';
import { openTarget } from '../targets/open.js';
import { posteriorFromSettings, quadraticLoss, type PosteriorSettings } from './posterior.js';

export type PosteriorSource =
  | {
      kind: 'target';
      home: string;
      target_id: string;
      posterior: PosteriorSettings;
      /** Engine implementation for the target's network (default: the engine's default). */
      impl?: EngineImpl;
    }
  | {
      kind: 'quadratic';
      /** L(w) = 0.5 sum_i c_i (w_i - centre_i)^2 with w* = centre. */
      centre: number[];
      curvature?: number[];
      n: number;
      posterior: PosteriorSettings;
    };

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
  /** Frees engine memory; call when done. */
  dispose(): void;
}

export async function openPosterior(source: PosteriorSource): Promise<OpenedPosterior> {
  if (source.kind === 'quadratic') {
    const centre = Float64Array.from(source.centre);
    const loss = quadraticLoss(centre, source.n, source.curvature ? Float64Array.from(source.curvature) : undefined);
    return { posterior: posteriorFromSettings(loss, centre, source.posterior, 0), dispose: () => {} };
  }
  const t: OpenedTarget = openTarget(source.home, source.target_id, source.impl ? { impl: source.impl } : {});
  const posterior = posteriorFromSettings(t.loss, t.wStar, source.posterior, t.L0);
  return {
    posterior,
    dispose: () => t.dispose?.(),
  };
}
