/**
 * SGNHT, the stochastic gradient Nose-Hoover thermostat (Ding et al. 2014): underdamped
 * Langevin dynamics whose friction xi adapts so that the kinetic temperature |p|^2 / d stays
 * at 1, which absorbs the unknown minibatch-gradient noise:
 *
 *   p  <- p - h grad U_b(w) - h xi p + sqrt(2 A h) N(0, I)
 *   w  <- w + h p
 *   xi <- xi + h (|p|^2 / d - 1)
 *
 * Step size. For a Gaussian direction of curvature k the discretisation inflates the variance
 * by about h^2 k / 4, as SGLD's does by eps k / 4, so `step_size: auto` runs the SGLD
 * calibration (calibrate.ts) and uses h = sqrt(eps), under the ULA stability cap (h^2 <= its
 * cap); the chains then share one h (the median, never above the tightest chain's cap), as
 * SGLD's chains share one step: a chain on its own pilot's step (one at twice the others')
 * diverged on the normal crossing. Its pilot rounds are counted as tuning work.
 *
 * Known bias: minibatch gradient noise adds h^2 (n beta)^2 C_b to the momentum's per-step noise
 * 2 A h, heating a direction by h (n beta)^2 C_ii / (2 A), O(h) = O(sqrt(eps)) where SGLD's
 * heating is O(eps). The thermostat removes only the mean excess, so directions with more
 * noise than average run hot: on the reduced-rank regression of the singular suite, +25% with
 * minibatches and +1% with full batches (batch_size >= n). A step rule from tr C_b alone
 * over-corrects (it cannot see how much of the heating the thermostat removes: it chose an h
 * 180 times smaller there, which then cannot relax in the run's length).
 *
 * So the kernel measures it. Every GRADIENT_NOISE_EVERY steps it also takes the gradient of the
 * batch's first half, g1: with g the batch's, (g1 - g)^2 is an unbiased estimate of the batch
 * gradient's variance V_i per coordinate, and it records the `gradient_noise` column
 * h mean_i(V_i) / (2 A), the gradient noise's share of the momentum noise against the injected
 * noise. On the RRR above it is ~1 (max over coordinates 3-9); there the SGHMC correction
 * (inject 2 h (A - h V_i / 2) instead of 2 A h) is clipped at zero for most coordinates, and
 * raising A to cover it damps the chains until they stop mixing (both measured, not kept).
 * diagnose warns above MAX_GRADIENT_NOISE. The probe costs half a batch gradient per
 * GRADIENT_NOISE_EVERY steps and draws no randomness, so the chain itself is unchanged.
 *
 * And, with `step_size: auto`, it sizes the batch by it: where sampling starts (after the SGLD
 * pilot), the batch doubles, up to all n rows, until the measured noise is at most
 * `max_gradient_noise` (BATCH_GRADIENT_NOISE); the chains then share the largest batch any of
 * them asked for. The noise of a batch of b rows is 1/b of a row's, so the rule costs a few
 * gradients; the run costs what its batch does. On the singular suite's RRR this takes batch 256
 * (noise ~1, +25% on four seeds) to near-full data (-1% to -8%); on the crossings and monomials,
 * whose noise is 0.004-0.024, it keeps the batch.
 */
import { z } from 'zod';
import { toJsonObject } from '../../contracts/index.js';
import { foldIn, type Key } from '../../rng/index.js';
import type { Kernel, Posterior, SamplerState, StepInfo } from '../types.js';
import { defineSampler, type PrepareContext, type Prepared, type SharedTuning, type TunedValues } from '../sampler.js';
import { medianStep, sgldKernel, sgldSchedule } from './sgld.js';
import { calibrationFields, stepCalibration, stepSizeSchema, type CalibrationReport } from '../adaptation/calibrate.js';
import { stepDraws } from './minibatch.js';

/**
 * Default max_gradient_noise of the batch rule. Measured at n = 1e4 with batch 256: the validate
 * DLNs sat at 0.05-0.10 with errors up to +7.9%, the RRR at 0.23 (batch 4096) still +13.8%;
 * under this target those DLNs come to -0.4% to +3.5% and the RRR to -1.4% to -8.3% (seeds 0-3).
 */
export const BATCH_GRADIENT_NOISE = 0.05;

export const sgnhtSchema = z
  .object({
    steps: z.number().int().min(1).default(10_000),
    warmup: z.number().int().min(0).nullable().default(null),
    eval_every: z.number().int().min(1).default(20),
    batch_size: z.number().int().min(1).default(256),
    step_size: stepSizeSchema.default('auto'),
    /** Injected noise A (the thermostat absorbs the gradient noise). */
    diffusion: z.number().positive().default(1),
    /**
     * step_size auto: the batch doubles (up to all n rows) until the gradient noise measured where
     * sampling starts is at most this (null: batch_size as given).
     */
    max_gradient_noise: z.number().positive().nullable().default(BATCH_GRADIENT_NOISE),
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
  /** h mean_i V_i / (2 A) on probe steps (module comment); undefined on the others. */
  gradient_noise: number | undefined;
}

/** Steps between gradient-noise probes (each costs half a batch gradient). */
export const GRADIENT_NOISE_EVERY = 10;

/**
 * Mean gradient_noise above which diagnose warns. Measured at n = 1e4, batch 256 (max_gradient_noise: null): the
 * singular suite's crossings and monomials 0.004-0.024 (errors -10% to +8% with batches
 * 256-4096), the validate DLNs 0.05-0.10 (-1.6% to +7.9%), its RRR 0.23 / 0.58 / 1.04 at batch
 * 4096 / 1024 / 256 (+13.8% / +22.4% / +25.7%).
 */
export const MAX_GRADIENT_NOISE = 0.2;

/**
 * sum_i (g1_i - g_i)^2 with g the gradient at `position` on `rows` (given) and g1 on their first
 * half (written to `gHalf`, `half` its row buffer): an unbiased estimate of sum_i V_i, V_i the
 * batch gradient's variance. The localizer's gradient is in both and cancels in the difference.
 */
function halfBatchVariance(posterior: Posterior, position: Float64Array, g: Float64Array, rows: Int32Array, half: Int32Array, gHalf: Float64Array): number {
  for (let i = 0; i < half.length; i++) half[i] = rows[i]!;
  posterior.potentialAndGrad(position, gHalf, half);
  let v = 0;
  for (let i = 0; i < g.length; i++) v += (gHalf[i]! - g[i]!) ** 2;
  return v;
}

/** Probes per batch size the batch rule tries (each a batch and a half-batch gradient). */
const NOISE_PROBES = 16;

/**
 * h mean_i V_i / (2 A) at `position` for batches of `batch` rows (the kernel's gradient_noise,
 * averaged over NOISE_PROBES batches); 0 for full batches. Its work in full-gradient equivalents
 * is returned with it.
 */
export function gradientNoiseAt(posterior: Posterior, position: Float64Array, batch: number, h: number, A: number, key: Key): { noise: number; fge: number } {
  const n = posterior.n;
  if (batch >= n || batch < 2) return { noise: 0, fge: 0 };
  const d = posterior.dim;
  const draws = stepDraws(n, batch);
  const rows = draws.rows!;
  const half = new Int32Array(batch >> 1);
  const g = new Float64Array(d);
  const g1 = new Float64Array(d);
  let v = 0;
  for (let k = 0; k < NOISE_PROBES; k++) {
    draws.drawRows(foldIn(key, k));
    posterior.potentialAndGrad(position, g, rows);
    v += halfBatchVariance(posterior, position, g, rows, half, g1);
  }
  return { noise: (h * v) / (NOISE_PROBES * 2 * A * d), fge: (NOISE_PROBES * 1.5 * batch) / n };
}

/**
 * The batch rule: doubles `batch` (at most n, which is full data) until the gradient noise at
 * `position` is at most `target`. Returns the batch, the noise measured at it and at the start,
 * and the work.
 */
export function batchForGradientNoise(posterior: Posterior, position: Float64Array, batch: number, h: number, A: number, target: number, key: Key): { batch: number; noise: number; initialNoise: number; fge: number } {
  let b = batch;
  let fge = 0;
  let m = gradientNoiseAt(posterior, position, b, h, A, foldIn(key, b));
  const initialNoise = m.noise;
  fge += m.fge;
  while (m.noise > target && b < posterior.n) {
    b = Math.min(posterior.n, 2 * b);
    m = gradientNoiseAt(posterior, position, b, h, A, foldIn(key, b));
    fge += m.fge;
  }
  return { batch: b, noise: m.noise, initialNoise, fge };
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
  const info: SgnhtInfo = { fge, thermostat: 0, kinetic_temperature: 1, gradient_noise: undefined };
  const result = { state: undefined as unknown as SgnhtState, info };
  const A = o.diffusion;
  const half = rows !== undefined && rows.length >= 2 ? new Int32Array(rows.length >> 1) : undefined;
  const gHalf = half ? new Float64Array(d) : undefined;
  let stepsTaken = 0;
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
      info.gradient_noise = undefined;
      info.fge = fge;
      if (half && ++stepsTaken % GRADIENT_NOISE_EVERY === 0) {
        info.gradient_noise = (h * halfBatchVariance(posterior, state.position, g, rows!, half, gHalf!)) / (2 * A * d);
        info.fge = fge * 1.5;
      }
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

/** SGNHT's h from the SGLD calibration: sqrt(eps), and its cap sqrt(stability cap). */
export function sgnhtStepFromCalibration(report: CalibrationReport, eps: number): { h: number; cap: number } {
  const cap = Math.sqrt(Math.min(report.stability_cap, report.step_ceiling ?? Infinity));
  return { h: Math.min(Math.sqrt(eps), cap), cap };
}

/** One h for the run: the median of the chains' (geometric mean of the middle two), at most the tightest cap. */
function shareSgnht(tuned: readonly TunedValues[]): SharedTuning {
  const hs = tuned.map((t) => Number(t.step_size));
  if (!hs.every((x) => Number.isFinite(x) && x > 0)) throw new Error(`sgnht: cannot pool the chains' step sizes ${JSON.stringify(hs)}`);
  const caps = tuned.map((t) => Number(t.step_cap)).filter((x) => Number.isFinite(x) && x > 0);
  // One batch for the run: the largest any chain's batch rule asked for.
  const batches = tuned.map((t) => Number(t.batch_size)).filter((x) => Number.isFinite(x) && x > 0);
  return { step_size: Math.min(medianStep(hs), ...caps), chains: hs.length, ...(batches.length === hs.length ? { batch_size: Math.max(...batches) } : {}) };
}

function prepareSgnht(ctx: PrepareContext<SgnhtConfig>): Prepared {
  const { posterior, cfg } = ctx;
  const opts = { batchSize: cfg.batch_size, diffusion: cfg.diffusion };
  if (cfg.step_size !== 'auto') {
    const tuned: TunedValues = { step_size: cfg.step_size, step_size_source: 'config' };
    return { kernel: sgnhtKernel(posterior, { ...opts, stepSize: cfg.step_size }), tuned, fge: 0, adopt: () => tuned };
  }
  const pilot = sgldKernel(posterior, { stepSize: 1, batchSize: cfg.batch_size, precond: 'none', beta1: 0.9, beta2: 0.999, precondEps: 1, malaEvery: 0 });
  const cal = stepCalibration(pilot, {
    targetBias: cfg.target_bias,
    roundSteps: cfg.calibration_steps,
    rounds: cfg.calibration_rounds,
    probes: cfg.calibration_probes,
  })(ctx);
  const rule = sgnhtStepFromCalibration(cal.report, cal.params.stepSize);
  const grown =
    cfg.max_gradient_noise === null
      ? undefined
      : batchForGradientNoise(posterior, cal.state.position, cfg.batch_size, rule.h, cfg.diffusion, cfg.max_gradient_noise, foldIn(ctx.key, 0x6e6f));
  const tuned: TunedValues = {
    step_size: rule.h,
    step_cap: rule.cap,
    sgld_step_size: cal.params.stepSize,
    step_size_source: 'calibrated',
    calibration: toJsonObject(cal.report),
    batch_size: grown?.batch ?? cfg.batch_size,
    ...(grown ? { batch_gradient_noise: grown.initialNoise, batch_size_source: grown.batch === cfg.batch_size ? 'config' : `grown from ${cfg.batch_size}: gradient noise ${grown.initialNoise.toPrecision(2)} > ${cfg.max_gradient_noise}` } : {}),
  };
  const prepared: Prepared = {
    kernel: sgnhtKernel(posterior, { ...opts, stepSize: rule.h }),
    tuned,
    fge: cal.fge + (grown?.fge ?? 0),
    adopt: (shared) => {
      const batch = Number(shared.batch_size ?? tuned.batch_size);
      const kernel = sgnhtKernel(posterior, { ...opts, batchSize: batch, stepSize: Number(shared.step_size) });
      prepared.kernel = kernel;
      prepared.state = kernel.init(cal.state.position, ctx.key);
      return {
        ...tuned,
        chain_step_size: rule.h,
        step_size: kernel.stepSize,
        step_size_source: `calibrated (median of ${String(shared.chains)} chains)`,
        chain_batch_size: tuned.batch_size ?? null,
        batch_size: batch,
      };
    },
  };
  prepared.state = prepared.kernel.init(cal.state.position, ctx.key);
  return prepared;
}

export const sampler = defineSampler<SgnhtConfig>({
  name: 'sgnht',
  summary: 'Stochastic gradient Nose-Hoover thermostat; step calibrated through SGLD by default',
  schema: sgnhtSchema,
  traits: { family: 'stochastic-gradient', bias: 'discretisation', shares: ['step_size', 'batch_size'], thresholds: { maxGradientNoise: MAX_GRADIENT_NOISE } },
  schedule: sgldSchedule,
  prepare: prepareSgnht,
  share: shareSgnht,
  columns: ['thermostat', 'kinetic_temperature', 'gradient_noise'],
});
