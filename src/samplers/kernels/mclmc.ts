/**
 * Microcanonical Langevin Monte Carlo (Robnik, De Luca, Silverstein & Seljak 2023; Robnik &
 * Seljak 2024), unadjusted, as BlackJAX's `mcmc/mclmc.py`:
 *
 * - The velocity u lives on the unit sphere and follows the isokinetic (ESH) dynamics, whose
 *   x-marginal is the target p(x) ∝ exp(-U(x)). It is integrated with the two-stage McLachlan
 *   minimal-norm scheme (b1, a1, b2, a1, b1) = (0.1932, 0.5, 0.6136, 0.5, 0.1932)
 *   (BlackJAX `isokinetic_mclachlan`): 2 gradient evaluations per step (the gradient at the start
 *   is cached from the previous step).
 * - After each step the velocity is partially refreshed, u <- normalise(c1 u + c2 z / sqrt(d)),
 *   c1 = exp(-eps / L), c2 = sqrt(1 - c1^2), z ~ N(0, I): L is the momentum decoherence length.
 * - With a diagonal preconditioner (sqrt_diag_cov = s, the posterior standard deviations) the
 *   dynamics run in y = x / s: positions move by eps a (s ⊙ u) and the gradient is s ⊙ grad.
 * - Per step we record energy_change = kinetic change + U(x1) - U(x0); its variance per dimension
 *   is what the step-size tuning targets. There is no Metropolis correction, so the step size
 *   sets a bias (see mclmc-tuning.ts).
 */
import { foldIn, normalInto, type Key } from '../../rng/index.js';
import type { Kernel, Posterior, SamplerState, StepInfo } from './types.js';

/** McLachlan's minimal-norm coefficient (BlackJAX `mclachlan_coefficients`). */
const B1 = 0.1931833275037836;
const A1 = 0.5;
const B2 = 1 - 2 * B1;

export interface MclmcParams {
  L: number;
  stepSize: number;
  /** Diagonal preconditioner: approximate posterior standard deviations (ones = none). */
  sqrtDiagCov: Float64Array;
}

export interface MclmcState extends SamplerState {
  position: Float64Array;
  /** Unit velocity. */
  momentum: Float64Array;
  potential: number;
  grad: Float64Array;
  /** Scratch: the step starts from a copy so a non-finite step can be rolled back. */
  prevPosition: Float64Array;
  prevMomentum: Float64Array;
  prevGrad: Float64Array;
  noise: Float64Array;
  bits: Uint32Array;
}

export interface MclmcInfo extends StepInfo {
  /** Kinetic energy change + potential change of the step (BlackJAX's energy_change). */
  energy_change: number;
  kinetic_change: number;
  /** The step produced non-finite values and was rolled back with a fresh velocity. */
  diverging: boolean;
  /** 2 gradient evaluations per McLachlan step. */
  fge: number;
}

/** Streams folded into a step key (the integrator itself is deterministic). */
const REFRESH_STREAM = 0;
const RESCUE_STREAM = 1;

/** Gradient evaluations per step of the McLachlan integrator. */
export const MCLMC_GRADS_PER_STEP = 2;

function normalise(v: Float64Array): void {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] = v[i]! / n;
}

/** A uniformly random unit vector. */
function randomUnit(k: Key, out: Float64Array, bits: Uint32Array): void {
  normalInto(k, out, bits);
  normalise(out);
}

export function initMclmcState(posterior: Posterior, position: Float64Array, key: Key): MclmcState {
  const d = posterior.dim;
  if (d < 2) throw new Error('MCLMC needs at least 2 dimensions (the velocity lives on the unit sphere)');
  if (position.length !== d) throw new Error(`MCLMC: position has length ${position.length}, posterior dim is ${d}`);
  const pos = Float64Array.from(position);
  const grad = new Float64Array(d);
  const potential = posterior.potentialAndGrad(pos, grad);
  if (!Number.isFinite(potential)) throw new Error('MCLMC: the potential is not finite at the initial position');
  const bits = new Uint32Array(2);
  const momentum = new Float64Array(d);
  randomUnit(key, momentum, bits);
  return {
    position: pos,
    momentum,
    potential,
    grad,
    prevPosition: new Float64Array(d),
    prevMomentum: new Float64Array(d),
    prevGrad: new Float64Array(d),
    noise: new Float64Array(d),
    bits,
  };
}

/**
 * ESH velocity update by time eps*coef under force -grad U (in preconditioned coordinates:
 * the force is -s ⊙ grad U). Closed form without exponentials of large numbers (Steeg &
 * Galstyan 2021). Returns the kinetic energy change of the update (already times d - 1).
 */
function velocityUpdate(u: Float64Array, gradU: Float64Array, s: Float64Array, eps: number): number {
  const d = u.length;
  // e = unit vector along grad log p = -s ⊙ grad U.
  let gnorm2 = 0;
  for (let i = 0; i < d; i++) {
    const gi = s[i]! * gradU[i]!;
    gnorm2 += gi * gi;
  }
  const gnorm = Math.sqrt(gnorm2);
  if (!(gnorm > 1e-13)) return 0; // at a stationary point the velocity does not turn
  let ue = 0;
  for (let i = 0; i < d; i++) ue += u[i]! * (-s[i]! * gradU[i]! / gnorm);
  const delta = (eps * gnorm) / (d - 1);
  const zeta = Math.exp(-delta);
  const ce = (1 - zeta) * (1 + zeta + ue * (1 - zeta));
  const cu = 2 * zeta;
  let n2 = 0;
  for (let i = 0; i < d; i++) {
    const v = ce * (-s[i]! * gradU[i]! / gnorm) + cu * u[i]!;
    u[i] = v;
    n2 += v * v;
  }
  const n = Math.sqrt(n2);
  for (let i = 0; i < d; i++) u[i] = u[i]! / n;
  return (delta - Math.LN2 + Math.log(1 + ue + (1 - ue) * zeta * zeta)) * (d - 1);
}

/** x += eps * coef * s ⊙ u, then U and grad U at the new x. */
function positionUpdate(
  posterior: Posterior,
  state: MclmcState,
  s: Float64Array,
  eps: number,
): number {
  const x = state.position;
  const u = state.momentum;
  for (let i = 0; i < x.length; i++) x[i] = x[i]! + eps * s[i]! * u[i]!;
  return posterior.potentialAndGrad(x, state.grad);
}

/**
 * One MCLMC step in place. On non-finite values the step is undone and the velocity redrawn
 * (BlackJAX's handle_nans), and the info says diverging with zero energy change.
 */
export function mclmcTransition(
  posterior: Posterior,
  state: MclmcState,
  params: MclmcParams,
  k: Key,
): MclmcInfo {
  const { stepSize: eps, L, sqrtDiagCov: s } = params;
  const d = state.position.length;
  state.prevPosition.set(state.position);
  state.prevMomentum.set(state.momentum);
  state.prevGrad.set(state.grad);
  const u0 = state.potential;

  const u = state.momentum;
  let kinetic = velocityUpdate(u, state.grad, s, eps * B1);
  positionUpdate(posterior, state, s, eps * A1);
  kinetic += velocityUpdate(u, state.grad, s, eps * B2);
  const u1 = positionUpdate(posterior, state, s, eps * A1);
  kinetic += velocityUpdate(u, state.grad, s, eps * B1);
  const energyChange = kinetic + u1 - u0;

  let finite = Number.isFinite(u1) && Number.isFinite(energyChange);
  if (finite) {
    for (let i = 0; i < d; i++) {
      if (!Number.isFinite(state.position[i]!) || !Number.isFinite(u[i]!)) {
        finite = false;
        break;
      }
    }
  }
  if (!finite) {
    state.position.set(state.prevPosition);
    state.grad.set(state.prevGrad);
    state.potential = u0;
    randomUnit(foldIn(k, RESCUE_STREAM), state.momentum, state.bits);
    return { fge: MCLMC_GRADS_PER_STEP, energy_change: 0, kinetic_change: 0, diverging: true };
  }
  state.potential = u1;

  // Partial refresh: an Ornstein-Uhlenbeck step of rate 1/L on the velocity, projected back to
  // the sphere; z / sqrt(d) has unit expected norm like u.
  const c1 = Math.exp(-eps / L);
  const c2 = Math.sqrt(1 - c1 * c1) / Math.sqrt(d);
  normalInto(foldIn(k, REFRESH_STREAM), state.noise, state.bits);
  for (let i = 0; i < d; i++) u[i] = c1 * u[i]! + c2 * state.noise[i]!;
  normalise(u);

  return { fge: MCLMC_GRADS_PER_STEP, energy_change: energyChange, kinetic_change: kinetic, diverging: false };
}

/** The MCLMC kernel of one chain; `params` is read at every step. */
export function mclmcKernel(posterior: Posterior, params: MclmcParams): Kernel<MclmcState, MclmcInfo> {
  if (params.sqrtDiagCov.length !== posterior.dim) {
    throw new Error('MCLMC: sqrt_diag_cov length differs from the posterior dimension');
  }
  return {
    init: (position, key) => initMclmcState(posterior, position, key),
    step: (state, k) => ({ state, info: mclmcTransition(posterior, state, params, k) }),
  };
}
