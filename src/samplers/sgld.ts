/**
 * SGLD (Welling & Teh; the LLC form of Lau et al.) with optional RMSProp or Adam
 * preconditioning (Hitchcock & Hoogland 2025, App. D.3):
 *
 *   g     = grad of the minibatch loss L_b(w) (b rows drawn with replacement; full data when
 *           batch_size >= n, which is exact and cheaper than drawing >= n rows)
 *   drift = gamma (w - w*) + n beta g             (Adam: g replaced by the bias-corrected m)
 *   w    <- w - (eps_i / 2) drift + sqrt(eps_i) xi,   xi ~ N(0, I)
 *
 * Preconditioners keep moments of the LOSS gradient g only (never the localizer term):
 *   v <- b2 v + (1 - b2) g^2, v_0 = 1, vhat = v / (1 - b2^t), eps_i = eps / (sqrt(vhat_i) + a)
 *   Adam also m <- b1 m + (1 - b1) g, m_0 = 0, mhat = m / (1 - b1^t).
 *
 * Step size: `step_size: auto` (default) calibrates it per chain from the target (see
 * calibrate.ts: a bias budget from a Hessian-trace estimate); a number overrides it.
 *
 * Optional diagnostic `mala_every: k`: every k steps, the Metropolis acceptance probability
 * that the SGLD proposal would have under MALA, computed on the step's own minibatch (as
 * devinterp's MalaAcceptanceRate does). Costs one extra minibatch gradient per diagnosed step.
 */
import { z } from 'zod';
import { threefry2x32Into, normalInto, type Key } from '../rng/index.js';
import type { Kernel, Posterior, SamplerState, StepInfo } from './types.js';
import type { PrepareContext, Prepared, SamplerDef, Schedule } from './runner.js';
import { calibrateStepSize } from './calibrate.js';

export const PRECONDITIONERS = ['none', 'rmsprop', 'adam'] as const;
export type Precond = (typeof PRECONDITIONERS)[number];

const stepSizeSchema = z.union([
  z.literal('auto'),
  z
    .number({ error: 'step_size must be a number > 0 or "auto"' })
    .refine((x) => Number.isFinite(x) && x > 0, { message: 'step_size must be > 0 (or "auto")' }),
]);

export const sgldSchema = z
  .object({
    steps: z.number().int().min(1).default(10_000),
    /** Burn-in steps (Python ignored this key). null: half of the steps. */
    warmup: z.number().int().min(0).nullable().default(null),
    eval_every: z.number().int().min(1).default(20),
    batch_size: z.number().int().min(1).default(256),
    step_size: stepSizeSchema.default('auto'),
    precond: z.enum(PRECONDITIONERS).default('none'),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    /** The a in eps_i = eps / (sqrt(vhat_i) + a); bounds the preconditioned step by eps / a. */
    precond_eps: z.number().positive().default(1e-4),
    /** Calibration: tolerated relative bias of the LLC from the step size (auto only). */
    target_bias: z.number().gt(0).lt(0.5).default(0.03),
    calibration_steps: z.number().int().min(20).default(400),
    calibration_rounds: z.number().int().min(1).max(20).default(6),
    /** Hutchinson probes per calibration sample. */
    calibration_probes: z.number().int().min(1).default(2),
    /** Every k steps record the MALA acceptance of the step (0: off). */
    mala_every: z.number().int().min(0).default(0),
  })
  .strict();
export type SgldConfig = z.infer<typeof sgldSchema>;

export interface SgldState extends SamplerState {
  position: Float64Array;
  /** Preconditioner second moment (length dim; unused for none). */
  v: Float64Array;
  /** Adam first moment. */
  m: Float64Array;
  /** Steps taken (for bias correction). */
  t: number;
}

export interface SgldInfo extends StepInfo {
  fge: number;
  step_size: number;
  mala_acceptance?: number;
}

export interface SgldKernelOptions {
  stepSize: number;
  batchSize: number;
  precond: Precond;
  beta1: number;
  beta2: number;
  precondEps: number;
  /** 0: off. */
  malaEvery: number;
}

export interface SgldKernel extends Kernel<SgldState, SgldInfo> {
  /** Per-coordinate step sizes eps_i the last step used (for calibration and tests). */
  readonly stepSizes: Float64Array;
  /** The rows of the last step's minibatch (undefined: full data). */
  readonly lastRows: Int32Array | undefined;
  stepSize: number;
}

/**
 * The SGLD kernel. Buffers are allocated once here; `step` allocates nothing. The returned
 * {state, info} object is reused: read it before the next step.
 */
export function sgldKernel(posterior: Posterior, o: SgldKernelOptions): SgldKernel {
  const d = posterior.dim;
  const n = posterior.n;
  const { gamma, nBeta, wStar, loss } = posterior;
  const full = o.batchSize >= n;
  const rows = full ? undefined : new Int32Array(o.batchSize);
  const fge = full ? 1 : o.batchSize / n;
  const g = new Float64Array(d);
  const xi = new Float64Array(d);
  const epsI = new Float64Array(d).fill(o.stepSize);
  const prop = new Float64Array(d);
  const gProp = new Float64Array(d);
  const block = new Uint32Array(2);
  const sub: [number, number] = [0, 0];
  const info: SgldInfo = { fge, step_size: o.stepSize };
  const result: { state: SgldState; info: SgldInfo } = { state: undefined as unknown as SgldState, info };
  const { beta1, beta2, precondEps, precond, malaEvery } = o;

  const kernel: SgldKernel = {
    stepSize: o.stepSize,
    stepSizes: epsI,
    get lastRows() {
      return rows;
    },
    init(position: Float64Array): SgldState {
      return { position: Float64Array.from(position), v: new Float64Array(d).fill(1), m: new Float64Array(d), t: 0 };
    },
    step(state: SgldState, key: Key): { state: SgldState; info: SgldInfo } {
      const w = state.position;
      const eps = kernel.stepSize;
      // Minibatch rows from sub-key 0, noise from sub-key 1: independent streams per step.
      if (rows) {
        threefry2x32Into(key[0], key[1], 0, 0, block, 0);
        const k0 = block[0]!;
        const k1 = block[1]!;
        for (let i = 0; i < rows.length; i++) {
          threefry2x32Into(k0, k1, 0, i, block, 0);
          rows[i] = Math.floor(((block[0]! ^ block[1]!) >>> 0) * 2.3283064365386963e-10 * n);
        }
      }
      threefry2x32Into(key[0], key[1], 0, 1, block, 0);
      sub[0] = block[0]!;
      sub[1] = block[1]!;
      const Lb = loss.lossAndGrad(w, g, rows);
      normalInto(sub, xi, block);
      state.t += 1;
      const t = state.t;
      if (precond !== 'none') {
        const v = state.v;
        const m = state.m;
        const c2 = 1 - beta2 ** t;
        const c1 = 1 - beta1 ** t;
        for (let i = 0; i < d; i++) {
          const gi = g[i]!;
          v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
          epsI[i] = eps / (Math.sqrt(v[i]! / c2) + precondEps);
          if (precond === 'adam') {
            m[i] = beta1 * m[i]! + (1 - beta1) * gi;
            g[i] = m[i]! / c1;
          }
        }
      } else if (epsI[0] !== eps) {
        epsI.fill(eps);
      }
      const mala = malaEvery > 0 && t % malaEvery === 0;
      let Ucur = 0;
      if (mala) {
        let sq = 0;
        for (let i = 0; i < d; i++) sq += (w[i]! - wStar[i]!) ** 2;
        Ucur = 0.5 * gamma * sq + nBeta * Lb;
      }
      let fgeStep = fge;
      if (mala) {
        // Proposal into `prop`; forward and reverse log densities need drift at both ends.
        let logQfwd = 0;
        for (let i = 0; i < d; i++) {
          const drift = gamma * (w[i]! - wStar[i]!) + nBeta * g[i]!;
          const e = epsI[i]!;
          prop[i] = w[i]! - 0.5 * e * drift + Math.sqrt(e) * xi[i]!;
          logQfwd += -0.5 * xi[i]! * xi[i]!;
        }
        const Lp = loss.lossAndGrad(prop, gProp, rows);
        fgeStep += fge;
        let sq = 0;
        let logQrev = 0;
        for (let i = 0; i < d; i++) {
          const dp = prop[i]! - wStar[i]!;
          sq += dp * dp;
          const e = epsI[i]!;
          const drift = gamma * dp + nBeta * gProp[i]!;
          const r = w[i]! - prop[i]! + 0.5 * e * drift;
          logQrev += (-0.5 * r * r) / e;
        }
        const Uprop = 0.5 * gamma * sq + nBeta * Lp;
        const logA = -Uprop + Ucur + logQrev - logQfwd;
        info.mala_acceptance = Number.isNaN(logA) ? 0 : Math.min(1, Math.exp(logA));
        w.set(prop);
      } else {
        for (let i = 0; i < d; i++) {
          const drift = gamma * (w[i]! - wStar[i]!) + nBeta * g[i]!;
          const e = epsI[i]!;
          w[i] = w[i]! - 0.5 * e * drift + Math.sqrt(e) * xi[i]!;
        }
        if (malaEvery > 0) info.mala_acceptance = undefined;
      }
      info.fge = fgeStep;
      info.step_size = eps;
      result.state = state;
      return result;
    },
  };
  return kernel;
}

export function sgldKernelOptions(cfg: SgldConfig, stepSize: number): SgldKernelOptions {
  return {
    stepSize,
    batchSize: cfg.batch_size,
    precond: cfg.precond,
    beta1: cfg.beta1,
    beta2: cfg.beta2,
    precondEps: cfg.precond_eps,
    malaEvery: cfg.mala_every,
  };
}

function prepareSgld(ctx: PrepareContext<SgldConfig>): Prepared<SgldState> {
  const { posterior, cfg } = ctx;
  if (cfg.step_size !== 'auto') {
    const kernel = sgldKernel(posterior, sgldKernelOptions(cfg, cfg.step_size));
    return { kernel, tuned: { step_size: cfg.step_size, step_size_source: 'config' }, fge: 0 };
  }
  const kernel = sgldKernel(posterior, sgldKernelOptions(cfg, 1));
  const cal = calibrateStepSize({
    posterior,
    kernel,
    init: ctx.init,
    key: ctx.key,
    targetBias: cfg.target_bias,
    roundSteps: cfg.calibration_steps,
    rounds: cfg.calibration_rounds,
    probes: cfg.calibration_probes,
    minSteps: cfg.precond === 'none' ? 0 : Math.ceil(3 / (1 - cfg.beta2)),
    biasFactor: cfg.precond === 'adam' ? (1 + cfg.beta1) / (1 - cfg.beta1) : 1,
  });
  kernel.stepSize = cal.stepSize;
  return {
    kernel,
    state: cal.state,
    tuned: { step_size: cal.stepSize, step_size_source: 'calibrated', calibration: cal.report },
    fge: cal.fge,
  };
}

export function sgldSchedule(cfg: { steps: number; warmup: number | null; eval_every: number }): Schedule {
  return {
    steps: cfg.steps,
    burnIn: cfg.warmup ?? Math.floor(cfg.steps / 2),
    evalEvery: cfg.eval_every,
  };
}

export const sampler: SamplerDef<SgldConfig> = {
  name: 'sgld',
  summary: 'SGLD with optional RMSProp/Adam preconditioning; step size calibrated from the target by default',
  schema: sgldSchema,
  schedule: sgldSchedule,
  prepare: prepareSgld as (ctx: PrepareContext<SgldConfig>) => Prepared,
  columns: (cfg) => (cfg.mala_every > 0 ? ['step_size', 'mala_acceptance'] : ['step_size']),
};
