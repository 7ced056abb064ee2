/**
 * SGNHT, the stochastic gradient Nose-Hoover thermostat (Ding et al. 2014): underdamped
 * Langevin dynamics whose friction xi adapts so that the kinetic temperature |p|^2 / d stays
 * at 1, which absorbs the unknown minibatch-gradient noise:
 *
 *   p  <- p - h grad U_b(w) - h xi p + sqrt(2 A h) N(0, I)
 *   w  <- w + h p
 *   xi <- xi + h (|p|^2 / d - 1)
 *
 * h plays the role of sqrt(eps_SGLD): for a Gaussian both schemes inflate the variance of a
 * direction by about h^2 k / 4 = eps k / 4. So `step_size: auto` runs the SGLD calibration
 * (calibrate.ts) and uses h = sqrt(eps); its pilot rounds are counted as tuning work.
 */
import { z } from 'zod';
import { toJsonObject } from '../../contracts/index.js';
import type { Key } from '../../rng/index.js';
import type { Kernel, Posterior, SamplerState, StepInfo } from '../types.js';
import { defineSampler, type PrepareContext, type Prepared } from '../sampler.js';
import { sgldKernel, sgldSchedule } from './sgld.js';
import { calibrationFields, stepCalibration, stepSizeSchema } from '../adaptation/calibrate.js';
import { stepDraws } from './minibatch.js';

export const sgnhtSchema = z
  .object({
    steps: z.number().int().min(1).default(10_000),
    warmup: z.number().int().min(0).nullable().default(null),
    eval_every: z.number().int().min(1).default(20),
    batch_size: z.number().int().min(1).default(256),
    step_size: stepSizeSchema.default('auto'),
    /** Injected noise A (the thermostat absorbs the gradient noise). */
    diffusion: z.number().positive().default(1),
    ...calibrationFields,
  })
  .strict();
export type SgnhtConfig = z.infer<typeof sgnhtSchema>;

export interface SgnhtState extends SamplerState {
  position: Float64Array;
  momentum: Float64Array;
  xi: number;
}

export interface SgnhtInfo extends StepInfo {
  fge: number;
  thermostat: number;
  kinetic_temperature: number;
}

export function sgnhtKernel(
  posterior: Posterior,
  o: { stepSize: number; batchSize: number; diffusion: number },
): Kernel<SgnhtState, SgnhtInfo> & { stepSize: number } {
  const d = posterior.dim;
  const n = posterior.n;
  const draws = stepDraws(n, o.batchSize);
  const { rows, fge } = draws;
  const g = new Float64Array(d);
  const noise = new Float64Array(d);
  const info: SgnhtInfo = { fge, thermostat: 0, kinetic_temperature: 1 };
  const result = { state: undefined as unknown as SgnhtState, info };
  const A = o.diffusion;
  const kernel = {
    stepSize: o.stepSize,
    init(position: Float64Array): SgnhtState {
      // Thermostat starts at the injected noise level A: its fixed point when gradients are exact.
      return { position: Float64Array.from(position), momentum: new Float64Array(d), xi: A };
    },
    step(state: SgnhtState, key: Key) {
      const h = kernel.stepSize;
      draws.drawRows(key);
      posterior.potentialAndGrad(state.position, g, rows);
      draws.drawNoise(key, noise);
      const w = state.position;
      const p = state.momentum;
      const s = Math.sqrt(2 * A * h);
      let kin = 0;
      for (let i = 0; i < d; i++) {
        const pi = p[i]! - h * g[i]! - h * state.xi * p[i]! + s * noise[i]!;
        p[i] = pi;
        w[i] = w[i]! + h * pi;
        kin += pi * pi;
      }
      state.xi += h * (kin / d - 1);
      info.thermostat = state.xi;
      info.kinetic_temperature = kin / d;
      result.state = state;
      return result;
    },
  };
  return kernel;
}

function prepareSgnht(ctx: PrepareContext<SgnhtConfig>): Prepared {
  const { posterior, cfg } = ctx;
  const opts = { batchSize: cfg.batch_size, diffusion: cfg.diffusion };
  if (cfg.step_size !== 'auto') {
    return { kernel: sgnhtKernel(posterior, { ...opts, stepSize: cfg.step_size }), tuned: { step_size: cfg.step_size, step_size_source: 'config' }, fge: 0 };
  }
  const pilot = sgldKernel(posterior, { stepSize: 1, batchSize: cfg.batch_size, precond: 'none', beta1: 0.9, beta2: 0.999, precondEps: 1, malaEvery: 0 });
  const cal = stepCalibration(pilot, {
    targetBias: cfg.target_bias,
    roundSteps: cfg.calibration_steps,
    rounds: cfg.calibration_rounds,
    probes: cfg.calibration_probes,
  })(ctx);
  const h = Math.sqrt(cal.params.stepSize);
  const kernel = sgnhtKernel(posterior, { ...opts, stepSize: h });
  return {
    kernel,
    state: kernel.init(cal.state.position, ctx.key),
    tuned: { step_size: h, sgld_step_size: cal.params.stepSize, step_size_source: 'calibrated', calibration: toJsonObject(cal.report) },
    fge: cal.fge,
  };
}

export const sampler = defineSampler<SgnhtConfig>({
  name: 'sgnht',
  summary: 'Stochastic gradient Nose-Hoover thermostat; step calibrated through SGLD by default',
  schema: sgnhtSchema,
  traits: { family: 'stochastic-gradient', bias: 'discretisation', shares: [], thresholds: {} },
  schedule: sgldSchedule,
  prepare: prepareSgnht,
  columns: ['thermostat', 'kinetic_temperature'],
});
