/**
 * The `vi` sampler: variational inference on the localized tempered posterior, then the LLC from
 * draws of the fitted q: llc = n beta (E_q[L_n] - L0), recorded every eval_every optimisation steps.
 *
 * Families
 * - mean_field: q(w) = N(mu, diag sigma^2) (ADVI): the mfa family with M = 1, r = 0.
 *   ELBO = E_q[log p(w)] + H(q), H = sum(log sigma) + const; reparameterised w = mu + sigma ⊙ e.
 * - mfa: a mixture of M factor analysers, q(w) = sum_m pi_m N(w; mu_m, A_m A_m^T + diag(s_m^2)),
 *   A_m of rank r, pi = softmax(logits). Every component is sampled each step (stratified:
 *   w_m = mu_m + A_m z + s_m ⊙ e), ELBO = sum_m pi_m E_{q_m}[log p(w) - log q(w)].
 *   Gradient estimator (unbiased; tested against the exact gradient):
 *     d/d theta_m = pi_m E[(grad log p(w_m) - grad_w log q(w_m)) dw_m/d theta_m]
 *     d/d logit_j = pi_j (F_j - sum_m pi_m F_m),  F_m = E_{q_m}[log p - log q] (MC estimates)
 *   The terms with the explicit parameter dependence of log q are dropped because their sum is
 *   E_q[grad_theta log q] = 0 exactly (the score identity): the "sticking the landing" estimator of
 *   Roeder et al. (2017), which for a mixture sampled in all components stays unbiased and has
 *   zero variance when q = p. No other control variate is used.
 * Optimiser: Adam, gradient ASCENT on the ELBO. (The Python system descended it - the sign error
 * that produced an LLC of 6.6e13 - and had no entropy term; the tests pin both.)
 *
 * Caveat (measured): on a singular posterior a Gaussian-family q does not see the singular
 * geometry. On a 45-parameter tanh MLP at its teacher (n beta = 21.7) mean-field VI gives
 * ~22 (about d/2) where HMC and MCLMC agree on ~14: at a stationary point of the mean-field ELBO
 * sum_i E_q[(w_i - mu_i) dU/dw_i] = d, which pins E_q[U] near d/2 wherever U is close to
 * quadratic over q's support. The VI LLC is exact for Gaussian posteriors only.
 *
 * Work (info.fge, summed by the runner into cumulative_fge): every ELBO gradient (1 FGE, b/n for a
 * b-row minibatch) and, on evaluation steps, the draws_per_eval full-data losses of the draws of
 * q (1 FGE each), so VI's work is comparable with the samplers'.
 *
 * Initialisation: means at the chain's initial point (extra components jittered by sigma0),
 * scales sigma0 = init_scale, default 0.1 / sqrt(n beta + gamma), a tenth of the posterior width
 * of a unit-curvature loss, so the optimiser must grow the scales (the entropy term's job).
 */
import { z } from 'zod';
import { foldIn, normalInto, randintInto, uniform01, type Key } from '../../rng/index.js';
import { defineSampler } from '../sampler.js';
import { adamStepInto, updateMoments } from '../../optim/adam.js';
import type { Kernel, Posterior, SamplerState, StepInfo } from '../types.js';

// ---------------------------------------------------------------------------------------------
// Parameter layout and the workspace of the gradient estimator

export interface MfaLayout {
  dim: number;
  /** Components. */
  M: number;
  /** Factor rank (0 for mean-field). */
  r: number;
}

/** Per component: mu (d), A (d x r, row-major), log s (d); then M logits. */
export function paramCount(l: MfaLayout): number {
  return l.M * (2 * l.dim + l.dim * l.r) + l.M;
}
function compSize(l: MfaLayout): number {
  return 2 * l.dim + l.dim * l.r;
}
export function muOffset(l: MfaLayout, m: number): number {
  return m * compSize(l);
}
export function aOffset(l: MfaLayout, m: number): number {
  return m * compSize(l) + l.dim;
}
export function logSOffset(l: MfaLayout, m: number): number {
  return m * compSize(l) + l.dim + l.dim * l.r;
}
export function logitOffset(l: MfaLayout): number {
  return l.M * compSize(l);
}

const LOG_2PI = Math.log(2 * Math.PI);

/** Buffers of the estimator, allocated once (steps do not allocate arrays). */
export class MfaWorkspace {
  readonly pi: Float64Array;
  /** Per component: Cholesky factor of C = I + A^T D^{-1} A (r x r), log det Sigma. */
  readonly chol: Float64Array[];
  readonly logDet: Float64Array;
  readonly invS2: Float64Array[];
  readonly w: Float64Array;
  readonly e: Float64Array;
  readonly z: Float64Array;
  readonly gradU: Float64Array;
  readonly g: Float64Array;
  readonly delta: Float64Array;
  readonly b: Float64Array;
  readonly y: Float64Array;
  readonly logN: Float64Array;
  /** b_k of each component for the current w (M x r). */
  readonly bk: Float64Array;
  readonly F: Float64Array;
  readonly bits = new Uint32Array(2);
  rows: Int32Array | null;

  constructor(readonly layout: MfaLayout, batchSize: number | null) {
    const { dim: d, M, r } = layout;
    this.pi = new Float64Array(M);
    this.chol = Array.from({ length: M }, () => new Float64Array(r * r));
    this.logDet = new Float64Array(M);
    this.invS2 = Array.from({ length: M }, () => new Float64Array(d));
    this.w = new Float64Array(d);
    this.e = new Float64Array(d);
    this.z = new Float64Array(Math.max(r, 1));
    this.gradU = new Float64Array(d);
    this.g = new Float64Array(d);
    this.delta = new Float64Array(d);
    this.b = new Float64Array(Math.max(r, 1));
    this.y = new Float64Array(Math.max(r, 1));
    this.logN = new Float64Array(M);
    this.bk = new Float64Array(M * Math.max(r, 1));
    this.F = new Float64Array(M);
    this.rows = batchSize === null ? null : new Int32Array(batchSize);
  }
}

/** Softmax of the logits and, per component, D^{-1}, chol(I + A^T D^{-1} A), log det Sigma. */
export function prepareComponents(theta: Float64Array, ws: MfaWorkspace): void {
  const { dim: d, M, r } = ws.layout;
  const lo = logitOffset(ws.layout);
  let mx = Number.NEGATIVE_INFINITY;
  for (let m = 0; m < M; m++) mx = Math.max(mx, theta[lo + m]!);
  let sum = 0;
  for (let m = 0; m < M; m++) {
    ws.pi[m] = Math.exp(theta[lo + m]! - mx);
    sum += ws.pi[m]!;
  }
  for (let m = 0; m < M; m++) ws.pi[m] = ws.pi[m]! / sum;
  for (let m = 0; m < M; m++) {
    const ao = aOffset(ws.layout, m);
    const so = logSOffset(ws.layout, m);
    const inv = ws.invS2[m]!;
    let logDet = 0;
    for (let i = 0; i < d; i++) {
      const ls = theta[so + i]!;
      inv[i] = Math.exp(-2 * ls);
      logDet += 2 * ls;
    }
    const L = ws.chol[m]!;
    // C = I + A^T D^{-1} A, then in-place Cholesky (C is SPD: identity plus a Gram matrix).
    for (let a = 0; a < r; a++) {
      for (let c = 0; c <= a; c++) {
        let s = a === c ? 1 : 0;
        for (let i = 0; i < d; i++) s += theta[ao + i * r + a]! * inv[i]! * theta[ao + i * r + c]!;
        L[a * r + c] = s;
      }
    }
    for (let a = 0; a < r; a++) {
      for (let c = 0; c <= a; c++) {
        let s = L[a * r + c]!;
        for (let k = 0; k < c; k++) s -= L[a * r + k]! * L[c * r + k]!;
        if (a === c) {
          L[a * r + a] = Math.sqrt(s);
          logDet += 2 * Math.log(L[a * r + a]!);
        } else {
          L[a * r + c] = s / L[c * r + c]!;
        }
      }
    }
    ws.logDet[m] = logDet;
  }
}

/** y = C^{-1} b by the Cholesky factor (r x r, lower). */
function cholSolve(L: Float64Array, r: number, b: Float64Array, y: Float64Array): void {
  for (let a = 0; a < r; a++) {
    let s = b[a]!;
    for (let k = 0; k < a; k++) s -= L[a * r + k]! * y[k]!;
    y[a] = s / L[a * r + a]!;
  }
  for (let a = r - 1; a >= 0; a--) {
    let s = y[a]!;
    for (let k = a + 1; k < r; k++) s -= L[k * r + a]! * y[k]!;
    y[a] = s / L[a * r + a]!;
  }
}

/**
 * log q(w) into the return value and grad_w log q(w) into out (Woodbury: Sigma^{-1} delta =
 * D^{-1} delta - D^{-1} A C^{-1} A^T D^{-1} delta). Needs prepareComponents first.
 */
export function logQAndGrad(theta: Float64Array, w: Float64Array, ws: MfaWorkspace, out: Float64Array | null): number {
  const { dim: d, M, r } = ws.layout;
  const delta = ws.delta;
  let mx = Number.NEGATIVE_INFINITY;
  for (let m = 0; m < M; m++) {
    const mo = muOffset(ws.layout, m);
    const ao = aOffset(ws.layout, m);
    const inv = ws.invS2[m]!;
    let maha = 0;
    for (let i = 0; i < d; i++) {
      const di = w[i]! - theta[mo + i]!;
      maha += di * di * inv[i]!;
    }
    for (let a = 0; a < r; a++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += theta[ao + i * r + a]! * inv[i]! * (w[i]! - theta[mo + i]!);
      ws.b[a] = s;
    }
    if (r > 0) {
      cholSolve(ws.chol[m]!, r, ws.b, ws.y);
      for (let a = 0; a < r; a++) {
        maha -= ws.b[a]! * ws.y[a]!;
        ws.bk[m * r + a] = ws.y[a]!;
      }
    }
    const lp = Math.log(ws.pi[m]!) - 0.5 * (d * LOG_2PI + ws.logDet[m]! + maha);
    ws.logN[m] = lp;
    if (lp > mx) mx = lp;
  }
  let sum = 0;
  for (let m = 0; m < M; m++) sum += Math.exp(ws.logN[m]! - mx);
  const logQ = mx + Math.log(sum);
  if (out) {
    out.fill(0);
    for (let m = 0; m < M; m++) {
      const resp = Math.exp(ws.logN[m]! - logQ);
      if (resp === 0) continue;
      const mo = muOffset(ws.layout, m);
      const ao = aOffset(ws.layout, m);
      const inv = ws.invS2[m]!;
      for (let i = 0; i < d; i++) {
        // (Sigma^{-1} delta)_i = inv_i (delta_i - (A y)_i), y = C^{-1} A^T D^{-1} delta.
        let ay = 0;
        for (let a = 0; a < r; a++) ay += theta[ao + i * r + a]! * ws.bk[m * r + a]!;
        delta[i] = inv[i]! * (w[i]! - theta[mo + i]! - ay);
        out[i] = out[i]! - resp * delta[i]!;
      }
    }
  }
  return logQ;
}

export interface ElboOptions {
  /** Reparameterised samples per component per step. */
  samples: number;
  /** Closed-form entropy (mean-field only: M = 1, r = 0). */
  analyticEntropy: boolean;
}

/**
 * One stochastic estimate of the ELBO gradient into grad (same layout as theta); returns the
 * ELBO estimate (up to the normalising constant of p) and the gradient evaluations used.
 */
export function elboGradient(
  posterior: Posterior,
  theta: Float64Array,
  grad: Float64Array,
  key: Key,
  ws: MfaWorkspace,
  opts: ElboOptions,
): { elbo: number; gradients: number } {
  const { dim: d, M, r } = ws.layout;
  const S = opts.samples;
  if (opts.analyticEntropy && (M !== 1 || r !== 0)) throw new Error('closed-form entropy needs M = 1, r = 0');
  grad.fill(0);
  prepareComponents(theta, ws);
  let gradients = 0;
  if (ws.rows) {
    randintInto(foldIn(key, 1), ws.rows, posterior.n, ws.bits);
  }
  const rows = ws.rows ?? undefined;
  const kDraw = foldIn(key, 0);
  for (let m = 0; m < M; m++) {
    const pim = ws.pi[m]!;
    const mo = muOffset(ws.layout, m);
    const ao = aOffset(ws.layout, m);
    const so = logSOffset(ws.layout, m);
    let fSum = 0;
    for (let s = 0; s < S; s++) {
      const k = foldIn(foldIn(kDraw, m), s);
      normalInto(foldIn(k, 0), ws.e, ws.bits);
      if (r > 0) normalInto(foldIn(k, 1), ws.z, ws.bits);
      const w = ws.w;
      for (let i = 0; i < d; i++) {
        let v = theta[mo + i]! + Math.exp(theta[so + i]!) * ws.e[i]!;
        for (let a = 0; a < r; a++) v += theta[ao + i * r + a]! * ws.z[a]!;
        w[i] = v;
      }
      const U = posterior.potentialAndGrad(w, ws.gradU, rows);
      gradients += rows ? rows.length / posterior.n : 1;
      const g = ws.g;
      let f = -U;
      if (opts.analyticEntropy) {
        for (let i = 0; i < d; i++) g[i] = -ws.gradU[i]!;
      } else {
        f -= logQAndGrad(theta, w, ws, g);
        // g currently holds grad log q: g = grad log p - grad log q.
        for (let i = 0; i < d; i++) g[i] = -ws.gradU[i]! - g[i]!;
      }
      fSum += f;
      const c = pim / S;
      for (let i = 0; i < d; i++) {
        const gi = g[i]!;
        grad[mo + i] = grad[mo + i]! + c * gi;
        for (let a = 0; a < r; a++) grad[ao + i * r + a] = grad[ao + i * r + a]! + c * gi * ws.z[a]!;
        grad[so + i] = grad[so + i]! + c * gi * Math.exp(theta[so + i]!) * ws.e[i]!;
      }
    }
    ws.F[m] = fSum / S;
  }
  let fBar = 0;
  for (let m = 0; m < M; m++) fBar += ws.pi[m]! * ws.F[m]!;
  // Softmax: d pi_m / d logit_j = pi_j (delta_mj - pi_m), so d/d logit_j sum_m pi_m F_m =
  // pi_j (F_j - fBar). (Zero for M = 1, as it must be.)
  const lo = logitOffset(ws.layout);
  for (let j = 0; j < M; j++) grad[lo + j] = ws.pi[j]! * (ws.F[j]! - fBar);
  let elbo = fBar;
  if (opts.analyticEntropy) {
    // H(N(mu, diag sigma^2)) = sum log sigma + (d/2)(1 + log 2 pi); d H / d log sigma_i = 1.
    const so = logSOffset(ws.layout, 0);
    for (let i = 0; i < d; i++) {
      elbo += theta[so + i]!;
      grad[so + i] = grad[so + i]! + 1;
    }
    elbo += 0.5 * d * (1 + LOG_2PI);
  }
  return { elbo, gradients };
}

/** One draw w ~ q into out (component by inverse CDF of pi). Needs prepareComponents first. */
export function sampleQ(theta: Float64Array, key: Key, ws: MfaWorkspace, out: Float64Array): void {
  const { dim: d, M, r } = ws.layout;
  const u = uniform01(foldIn(key, 0), ws.bits);
  let m = 0;
  let acc = ws.pi[0]!;
  while (m < M - 1 && u >= acc) {
    m += 1;
    acc += ws.pi[m]!;
  }
  normalInto(foldIn(key, 1), ws.e, ws.bits);
  if (r > 0) normalInto(foldIn(key, 2), ws.z, ws.bits);
  const mo = muOffset(ws.layout, m);
  const ao = aOffset(ws.layout, m);
  const so = logSOffset(ws.layout, m);
  for (let i = 0; i < d; i++) {
    let v = theta[mo + i]! + Math.exp(theta[so + i]!) * ws.e[i]!;
    for (let a = 0; a < r; a++) v += theta[ao + i * r + a]! * ws.z[a]!;
    out[i] = v;
  }
}

// ---------------------------------------------------------------------------------------------
// Config and the sampler

export const viConfigSchema = z
  .object({
    family: z.enum(['mean_field', 'mfa']).default('mfa'),
    steps: z.number().int().min(1).default(5000),
    lr: z.number().positive().default(0.01),
    M: z.number().int().min(1).default(4),
    r: z.number().int().min(0).default(2),
    /** Reparameterised samples per component per step. */
    samples_per_step: z.number().int().min(1).default(1),
    eval_every: z.number().int().min(1).default(100),
    draws_per_eval: z.number().int().min(1).default(64),
    /** Minibatch rows per gradient (null: full data). */
    batch_size: z.number().int().min(1).nullable().default(null),
    /** Initial scale of q; null: 0.1 / sqrt(n beta + gamma). */
    init_scale: z.number().positive().nullable().default(null),
    adam_beta1: z.number().min(0).lt(1).default(0.9),
    adam_beta2: z.number().min(0).lt(1).default(0.999),
  })
  .strict();
export type ViConfig = z.infer<typeof viConfigSchema>;

export interface ViState extends SamplerState {
  /** Mixture mean sum_m pi_m mu_m (what the runner checks for finiteness). */
  position: Float64Array;
  theta: Float64Array;
  grad: Float64Array;
  adamM: Float64Array;
  adamV: Float64Array;
  /** Optimisation steps done. */
  t: number;
  draw: Float64Array;
  ws: MfaWorkspace;
}

export interface ViInfo extends StepInfo {
  elbo: number;
  /** E_q[L_n] from draws_per_eval draws, on evaluation steps only. */
  Ln?: number;
  /** The ELBO gradients (b/n each for b-row minibatches) plus, on evaluation steps, draws_per_eval. */
  fge: number;
}

export function layoutOf(cfg: ViConfig, dim: number): MfaLayout {
  return cfg.family === 'mean_field' ? { dim, M: 1, r: 0 } : { dim, M: cfg.M, r: Math.min(cfg.r, dim) };
}

/** Initial variational parameters around `init` (see the module comment). */
export function initTheta(layout: MfaLayout, init: Float64Array, sigma0: number, key: Key): Float64Array {
  const { dim: d, M, r } = layout;
  const theta = new Float64Array(paramCount(layout));
  const jitter = new Float64Array(d);
  for (let m = 0; m < M; m++) {
    const mo = muOffset(layout, m);
    if (m > 0) normalInto(foldIn(key, 2 * m), jitter);
    for (let i = 0; i < d; i++) theta[mo + i] = init[i]! + (m > 0 ? sigma0 * jitter[i]! : 0);
    if (r > 0) {
      const a = normalInto(foldIn(key, 2 * m + 1), new Float64Array(d * r));
      for (let j = 0; j < d * r; j++) theta[aOffset(layout, m) + j] = 0.1 * sigma0 * a[j]!;
    }
    theta.fill(Math.log(sigma0), logSOffset(layout, m), logSOffset(layout, m) + d);
  }
  return theta;
}

function mixtureMeanInto(theta: Float64Array, ws: MfaWorkspace, out: Float64Array): void {
  const { dim: d, M } = ws.layout;
  out.fill(0);
  for (let m = 0; m < M; m++) {
    const mo = muOffset(ws.layout, m);
    for (let i = 0; i < d; i++) out[i] = out[i]! + ws.pi[m]! * theta[mo + i]!;
  }
}

export interface ViKernelOptions {
  cfg: ViConfig;
  layout: MfaLayout;
  /** Steps after which E_q[L_n] is evaluated (the runner's recording schedule). */
  burnIn: number;
  evalEvery: number;
  sigma0: number;
  /**
   * Adam moves every parameter by about lr per step whatever its scale, so means and factor
   * loadings (lengths in parameter space) step by lr x locationScale, log-scales and logits by lr.
   * The sampler uses 1 / sqrt(n beta + gamma), the posterior width of a unit-curvature loss:
   * with a raw lr of 0.01 the means of an n beta = 2000 posterior (width ~0.02) would jitter by
   * half a standard deviation and inflate E_q[L_n].
   */
  locationScale: number;
}

/** Streams folded into a step key. */
const GRAD_STREAM = 0;
const EVAL_STREAM = 1;

export function viKernel(posterior: Posterior, opts: ViKernelOptions): Kernel<ViState, ViInfo> {
  const { cfg, layout } = opts;
  // Both families use the sticking-the-landing path gradient (grad log p - grad log q): it is
  // unbiased and its variance vanishes as q approaches p, so a constant-lr Adam settles much
  // closer to the optimum than with the closed-form entropy gradient (measured on the quadratic:
  // variances within ~1% instead of ~14% at lr 0.01).
  const elboOpts: ElboOptions = { samples: cfg.samples_per_step, analyticEntropy: false };
  const b1 = cfg.adam_beta1;
  const b2 = cfg.adam_beta2;
  const adamEps = 1e-8;
  // Per-parameter learning rates (see ViKernelOptions.locationScale).
  const lrs = new Float64Array(paramCount(layout)).fill(cfg.lr);
  for (let m = 0; m < layout.M; m++) {
    lrs.fill(cfg.lr * opts.locationScale, muOffset(layout, m), logSOffset(layout, m));
  }
  return {
    init(position, key) {
      const theta = initTheta(layout, position, opts.sigma0, key);
      const ws = new MfaWorkspace(layout, cfg.batch_size);
      prepareComponents(theta, ws);
      const pos = new Float64Array(layout.dim);
      mixtureMeanInto(theta, ws, pos);
      const P = theta.length;
      return {
        position: pos,
        theta,
        grad: new Float64Array(P),
        adamM: new Float64Array(P),
        adamV: new Float64Array(P),
        t: 0,
        draw: new Float64Array(layout.dim),
        ws,
      };
    },
    step(state, key) {
      const { theta, grad, adamM, adamV, ws } = state;
      const { elbo, gradients } = elboGradient(posterior, theta, grad, foldIn(key, GRAD_STREAM), ws, elboOpts);
      state.t += 1;
      const t = state.t;
      updateMoments(adamM, adamV, grad, b1, b2);
      // ASCENT: the ELBO is maximised, so the parameters move along +gradient.
      adamStepInto(theta, adamM, adamV, t, { beta1: b1, beta2: b2, eps: adamEps, lr: lrs, sign: 1 });
      prepareComponents(theta, ws);
      mixtureMeanInto(theta, ws, state.position);
      const info: ViInfo = { fge: gradients, elbo };
      if (t > opts.burnIn && (t - opts.burnIn) % opts.evalEvery === 0) {
        const kEval = foldIn(key, EVAL_STREAM);
        let sum = 0;
        for (let s = 0; s < cfg.draws_per_eval; s++) {
          sampleQ(theta, foldIn(kEval, s), ws, state.draw);
          sum += posterior.lossAt(state.draw);
        }
        info.Ln = sum / cfg.draws_per_eval;
        // The full-data losses of the draws are work like the samplers' gradients (1 FGE each):
        // they are what turns q into an LLC estimate, and a recorded row costs draws_per_eval of
        // them, where an MCMC row costs one (which the runner books as eval_fge instead).
        info.fge += cfg.draws_per_eval;
      }
      return { state, info };
    },
  };
}

/** Evaluation interval: eval_every, but a run shorter than that still records its last step. */
function evalEveryOf(cfg: ViConfig): number {
  return Math.min(cfg.eval_every, cfg.steps);
}

/** Default burn-in: the first half of the optimisation (keeping at least one evaluation). */
function defaultBurnIn(cfg: ViConfig): number {
  return Math.max(0, Math.min(Math.floor(cfg.steps / 2), cfg.steps - evalEveryOf(cfg)));
}

export const sampler = defineSampler<ViConfig>({
  name: 'vi',
  summary: 'Variational inference (mean-field Gaussian or mixture of factor analysers), LLC from draws of q',
  schema: viConfigSchema,
  traits: {
    family: 'variational',
    bias: 'variational',
    shares: [],
    thresholds: {},
    // Not visible in the draws themselves: they mix well around the wrong distribution.
    caveat:
      'variational estimate: a Gaussian family cannot follow a singular posterior, so on network targets λ̂ is biased ' +
      '(about d/2 measured on a 45-parameter MLP); cross-check with sgld, hmc or mclmc',
  },
  schedule: (cfg) => ({ steps: cfg.steps, burnIn: defaultBurnIn(cfg), evalEvery: evalEveryOf(cfg) }),
  prepare(ctx) {
    const { cfg, posterior } = ctx;
    const layout = layoutOf(cfg, posterior.dim);
    const width = 1 / Math.sqrt(posterior.nBeta + posterior.gamma);
    const sigma0 = cfg.init_scale ?? 0.1 * width;
    const kernel = viKernel(posterior, {
      cfg, layout, burnIn: ctx.schedule.burnIn, evalEvery: ctx.schedule.evalEvery, sigma0, locationScale: width,
    });
    const state = kernel.init(ctx.init, ctx.key);
    return {
      kernel,
      state,
      tuned: { init_scale: sigma0, M: layout.M, r: layout.r, family: cfg.family, draws_per_eval: cfg.draws_per_eval },
      fge: 0,
    };
  },
  columns: ['elbo'],
  // Each step's ELBO gradients (samples_per_step per mixture component), and draws_per_eval L_n
  // evaluations at each recorded row.
  lengths: {
    keys: [{ key: 'steps', min: 200 }],
    plannedFge: (cfg, n) =>
      cfg.steps * cfg.samples_per_step * (cfg.family === 'mean_field' ? 1 : cfg.M) *
        (cfg.batch_size === null ? 1 : Math.min(1, cfg.batch_size / n)) +
      Math.floor(cfg.steps / evalEveryOf(cfg)) * cfg.draws_per_eval,
  },
});
