/**
 * The `hmc` sampler: HMC with a diagonal mass matrix and Stan's window adaptation, run by every
 * chain on its own (see window-adaptation.ts; the kernel is in hmc-kernel.ts).
 *
 * Config (the Python system's keys): draws 1000, warmup 200, num_integration_steps 10,
 * step_size 0.1 (the initial step size), target_accept 0.8, adapt_step_size true,
 * adapt_mass_matrix true, and step_size_jitter 0.2 (not in the Python system: see
 * HmcParams.stepSizeJitter for the resonance it prevents). With adapt_step_size false the step
 * size stays step_size.
 * Warmup transitions are tuning (their work is counted as tuning FGE), draws are recorded.
 */
import { z } from 'zod';
import type { SamplerDef } from './runner/chain.js';
import { hmcKernel } from './kernels/hmc.js';
import { windowAdaptation } from './adaptation/window-adaptation.js';

const JITTER_DEFAULT = 0.2;

export const hmcConfigSchema = z
  .object({
    draws: z.number().int().min(1).default(1000),
    warmup: z.number().int().min(0).default(200),
    num_integration_steps: z.number().int().min(1).default(10),
    step_size: z.number().positive().default(0.1),
    target_accept: z.number().gt(0).lt(1).default(0.8),
    adapt_step_size: z.boolean().default(true),
    adapt_mass_matrix: z.boolean().default(true),
    /** Uniform step-size jitter fraction per transition; see HmcParams.stepSizeJitter. */
    step_size_jitter: z.number().min(0).lt(1).default(JITTER_DEFAULT),
  })
  .strict();
export type HmcConfig = z.infer<typeof hmcConfigSchema>;

function stats(x: Float64Array): { mean: number; min: number; max: number } {
  let s = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of x) {
    s += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { mean: s / x.length, min, max };
}

export const sampler: SamplerDef<HmcConfig> = {
  name: 'hmc',
  summary: 'HMC (leapfrog, diagonal mass matrix) with per-chain Stan window adaptation',
  schema: hmcConfigSchema,
  schedule: (cfg) => ({ steps: cfg.draws, burnIn: 0, evalEvery: 1 }),
  prepare(ctx) {
    const { cfg, posterior } = ctx;
    const adapted = windowAdaptation(posterior, ctx.init, ctx.key, {
      numSteps: cfg.warmup,
      numIntegrationSteps: cfg.num_integration_steps,
      initialStepSize: cfg.step_size,
      targetAccept: cfg.target_accept,
      adaptStepSize: cfg.adapt_step_size,
      adaptMassMatrix: cfg.adapt_mass_matrix,
      stepSizeJitter: cfg.step_size_jitter,
    });
    const imm = stats(adapted.params.inverseMassMatrix);
    return {
      kernel: hmcKernel(posterior, adapted.params),
      state: adapted.state,
      tuned: {
        step_size: adapted.params.stepSize,
        inverse_mass_matrix_mean: imm.mean,
        inverse_mass_matrix_min: imm.min,
        inverse_mass_matrix_max: imm.max,
        warmup_acceptance: Number.isFinite(adapted.meanAcceptance) ? adapted.meanAcceptance : null,
        warmup_divergences: adapted.infos.filter((i) => i.diverging).length,
      },
      fge: adapted.fge,
    };
  },
  columns: ['acceptance', 'energy', 'diverging', 'num_integration_steps'],
};
