/**
 * The `mclmc` sampler: unadjusted microcanonical Langevin Monte Carlo (mclmc-kernel.ts) with
 * BlackJAX's automatic tuning of L, step size and a diagonal preconditioner (mclmc-tuning.ts),
 * done by every chain on its own. The Python system ran it untuned at L = 1, step 0.1.
 *
 * Config: draws 1000; the tuning stages last frac_tune{1,2,3} x num_tuning_steps steps
 * (BlackJAX's `num_steps` argument; default max(draws, 1000), so that short runs still tune on
 * 100-step stages); L / step_size fix that value and skip its tuning (an explicit value is in
 * parameter units, so it also turns the preconditioner off); desired_energy_var 5e-4 (the
 * energy-error variance per dimension the step size is tuned to: it sets the bias).
 */
import { z } from 'zod';
import { foldIn } from '../rng/index.js';
import type { SamplerDef } from './runner.js';
import { initMclmcState, mclmcKernel } from './mclmc-kernel.js';
import { mclmcFindLAndStepSize } from './mclmc-tuning.js';

const frac = z.number().min(0).max(1);

export const mclmcConfigSchema = z
  .object({
    draws: z.number().int().min(1).default(1000),
    num_tuning_steps: z.number().int().min(0).nullable().default(null),
    frac_tune1: frac.default(0.1),
    frac_tune2: frac.default(0.1),
    frac_tune3: frac.default(0.1),
    L: z.number().positive().nullable().default(null),
    step_size: z.number().positive().nullable().default(null),
    desired_energy_var: z.number().positive().default(5e-4),
    diagonal_preconditioning: z.boolean().default(true),
    trust_in_estimate: z.number().positive().default(1.5),
    num_effective_samples: z.number().gt(1).default(150),
  })
  .strict();
export type MclmcConfig = z.infer<typeof mclmcConfigSchema>;

/** Steps of the three tuning stages for a config. */
export function tuningStages(cfg: MclmcConfig): [number, number, number] {
  const basis = cfg.num_tuning_steps ?? Math.max(cfg.draws, 1000);
  return [
    Math.floor(basis * cfg.frac_tune1),
    Math.floor(basis * cfg.frac_tune2),
    Math.floor(basis * cfg.frac_tune3),
  ];
}

export const sampler: SamplerDef<MclmcConfig> = {
  name: 'mclmc',
  summary: 'Microcanonical Langevin MC (isokinetic McLachlan) with BlackJAX L/step-size tuning',
  schema: mclmcConfigSchema,
  schedule: (cfg) => ({ steps: cfg.draws, burnIn: 0, evalEvery: 1 }),
  prepare(ctx) {
    const { cfg, posterior } = ctx;
    const [n1, n2, n3] = tuningStages(cfg);
    // Sub-keys of the chain's tuning key: the initial velocity, then the tuning steps.
    const state = initMclmcState(posterior, ctx.init, foldIn(ctx.key, 0));
    const tuned = mclmcFindLAndStepSize(posterior, state, foldIn(ctx.key, 1), {
      numSteps1: n1,
      numSteps2: n2,
      numSteps3: n3,
      desiredEnergyVar: cfg.desired_energy_var,
      trustInEstimate: cfg.trust_in_estimate,
      numEffectiveSamples: cfg.num_effective_samples,
      diagonalPreconditioning: cfg.diagonal_preconditioning,
      L: cfg.L,
      stepSize: cfg.step_size,
    });
    let sum = 0;
    for (const s of tuned.params.sqrtDiagCov) sum += s;
    return {
      kernel: mclmcKernel(posterior, tuned.params),
      state: tuned.state,
      tuned: {
        L: tuned.params.L,
        step_size: tuned.params.stepSize,
        sqrt_diag_cov_mean: sum / posterior.dim,
        tuning_steps: [n1, n2, n3],
        tuning_divergences: tuned.divergences,
        tuning_energy_var_per_dim: Number.isFinite(tuned.energyVarPerDim) ? tuned.energyVarPerDim : null,
      },
      fge: tuned.fge + 1, // + the initial gradient
    };
  },
  columns: ['energy_change', 'diverging'],
};

export const mclmcSampler = sampler;
