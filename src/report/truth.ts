/**
 * The known learning coefficient of a run's target, when there is one: the quadratic target's
 * exact λ̂ under the localised tempered posterior (src/posterior/truth.ts), and Aoyagi's λ for
 * a deep linear network whose teacher has a given rank.
 */
import type { TargetMeta } from '../targets/build.js';
import type { Analysis } from '../analysis/index.js';
import { dlnLearningCoefficient, quadraticPosteriorLambda } from '../posterior/truth.js';

export interface Truth {
  value: number;
  /** Where the number comes from, shown next to it. */
  source: string;
}

export function truthOf(meta: TargetMeta, analysis: Pick<Analysis, 'n' | 'beta' | 'gamma'>): Truth | null {
  const model = meta.config?.model;
  if (!model) return null;
  try {
    if (model.family === 'quadratic') {
      const { n, beta, gamma } = analysis;
      if (n === null || beta === null || gamma === null) return null;
      // Exact for this posterior: (d/2) nβ/(nβ + γ), not the asymptotic d/2.
      return { value: quadraticPosteriorLambda({ d: model.dim, n, beta, gamma }), source: `quadratic d=${model.dim}: (d/2)·nβ/(nβ+γ)` };
    }
    const teacher = meta.config.teacher;
    if (model.family === 'dln' && teacher?.family === 'dln') {
      const widths = [model.in_dim, ...model.widths, model.out_dim];
      const t = dlnLearningCoefficient(widths, teacher.rank);
      return { value: t.lambda, source: `DLN ${widths.join('-')} rank ${teacher.rank} (Aoyagi)` };
    }
  } catch {
    // A config the formula does not cover (e.g. rank above a width): no truth, not an error.
    return null;
  }
  return null;
}
