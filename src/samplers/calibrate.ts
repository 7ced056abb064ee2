/**
 * Automatic SGLD step size: the step is the error that dominates the LLC estimate
 * (shared/notes/estimator.md), so the default chooses it from the target.
 *
 * WHY THIS RULE. For a Gaussian posterior with curvatures k_j = gamma + n beta h_j, the
 * unadjusted Langevin chain at step eps has stationary variance 1 / (k_j (1 - eps k_j / 4))
 * per eigendirection, so each direction that carries LLC (n beta h_j >> gamma) inflates its
 * share 1/2 of lambda by eps k_j / 4, and the absolute bias of the LLC is
 *     bias(eps) ~= sum_j eps n beta h_j / 8 = eps n beta tr(H) / 8,   H = Hessian of L_n,
 * (with a preconditioner, eps h_j becomes the eigenvalues of diag(eps_i) H: tr(diag(eps_i) H)).
 * Flat directions contribute nothing, so unlike the global virial this does not need them to
 * have mixed. For singular (degree p > 2) directions the same argument gives a bias smaller
 * by 2/p, so the rule errs on the safe side; on the DLNs of estimator.md it predicts about
 * twice the bias that was measured.
 * We pick eps so that the predicted relative bias bias(eps) / lambda equals `target_bias`:
 *     eps = 8 target_bias lambda / (n beta E[tr(D H)])
 * where E[tr(D H)] (expected under the posterior, not only at w*) and lambda come from short
 * pilot runs:
 *   1. tr(H) at w* by Hutchinson probes (finite differences of minibatch gradients on common
 *      rows: unbiased, 2 b/n FGE per probe) gives a first, stable step 1 / (n beta tr H + gamma)
 *      (every direction then has eps k_j / 4 <= 1/4).
 *   2. Rounds of `calibration_steps` SGLD steps at the current eps, continuing the same chain;
 *      on the second half of each round, full-data L_n at 5 points gives lambda-hat and
 *      Hutchinson probes give tr(D H). The new eps follows the rule, changed at most 4x up or
 *      16x down per round; stop when it moves < 15%. A round that diverges restarts at eps/10.
 * When lambda-hat <= 0 (w* not a minimum) the rule falls back to eps = 4 target_bias /
 * (n beta tr(D H)), which bounds the inflation of every single direction.
 * The pilot rounds double as burn-in: sampling starts from their final state. All of their
 * work (steps, L_n evaluations, probes) is counted in FGE.
 * One pilot's step is noisy (its lambda-hat and trace come from a few hundred steps of a chain
 * whose L_n is correlated over ~2 / (gamma eps) steps on singular targets; a 4x spread between
 * chains was measured on a DLN), so SGLD runs with the median over the chains (sgld.ts).
 */
import { foldIn, foldInInto, randintInto, threefry2x32Into, type Key } from '../rng/index.js';
import type { Posterior } from './types.js';
import type { SgldKernel, SgldState } from './sgld.js';

export interface CalibrateOptions {
  posterior: Posterior;
  kernel: SgldKernel;
  init: Float64Array;
  key: Key;
  targetBias: number;
  roundSteps: number;
  rounds: number;
  probes: number;
  /**
   * Pilot steps to take at least, whatever the convergence: preconditioners whose v starts at
   * 1 need ~3 / (1 - beta2) steps before diag(eps_i) settles, and the rule must see the
   * settled D (measured: RMSProp-SGLD calibrated on an unsettled D gave +17% instead of +3%).
   */
  minSteps?: number;
  /**
   * Multiplies the predicted bias for kernels whose drift lags: Adam's drift is an EMA of past
   * gradients, and a lag of 1 / (1 - beta1) steps inflates the stationary variance by about
   * (1 + beta1) / (1 - beta1) times the ULA excess (derived for a 1-D Gaussian; a simulation
   * at beta1 = 0.9 gives 17x against the 19x of the formula).
   */
  biasFactor?: number;
  /** Rows per Hutchinson probe (default: the kernel's minibatch size, or all rows). */
  probeRows?: number;
}

export interface CalibrationRound {
  round: number;
  step_size: number;
  lambda_hat: number | null;
  trace_DH: number | null;
  predicted_bias: number | null;
  diverged: boolean;
}

export interface CalibrationResult {
  stepSize: number;
  state: SgldState;
  fge: number;
  report: {
    rule: string;
    target_bias: number;
    trace_H_at_wstar: number;
    initial_step_size: number;
    predicted_bias: number | null;
    rounds: CalibrationRound[];
  };
}

const LN_POINTS = 5;

/** Hutchinson estimate of tr(diag(weights) H) at w from `probes` Rademacher probes. */
export function hutchinsonTrace(
  posterior: Posterior,
  w: Float64Array,
  weights: Float64Array | null,
  rows: Int32Array | undefined,
  probes: number,
  key: Key,
  scratch: { wp: Float64Array; gp: Float64Array; gm: Float64Array; block: Uint32Array },
): number {
  const d = posterior.dim;
  const { wp, gp, gm, block } = scratch;
  const loss = posterior.loss;
  let rms = 0;
  for (let i = 0; i < d; i++) rms += w[i]! * w[i]!;
  // Central differences: exact for quadratics, O(h^2) otherwise; h relative to the scale of w.
  const h = 1e-5 * Math.max(1, Math.sqrt(rms / d));
  let total = 0;
  for (let p = 0; p < probes; p++) {
    const sign = (i: number): number => {
      threefry2x32Into(key[0], key[1], p, i >>> 5, block, 0);
      return ((block[0]! ^ block[1]!) >>> (i & 31)) & 1 ? 1 : -1;
    };
    for (let i = 0; i < d; i++) wp[i] = w[i]! + h * sign(i);
    loss.lossAndGrad(wp, gp, rows);
    for (let i = 0; i < d; i++) wp[i] = w[i]! - h * sign(i);
    loss.lossAndGrad(wp, gm, rows);
    let s = 0;
    for (let i = 0; i < d; i++) s += (weights ? weights[i]! : 1) * sign(i) * (gp[i]! - gm[i]!);
    total += s / (2 * h);
  }
  return total / probes;
}

export function calibrateStepSize(o: CalibrateOptions): CalibrationResult {
  const { posterior, kernel } = o;
  const d = posterior.dim;
  const n = posterior.n;
  const batch = Math.min(n, o.probeRows ?? kernel.lastRows?.length ?? n);
  const rows = batch >= n ? undefined : new Int32Array(batch);
  const probeFge = (2 * (rows ? batch : n)) / n;
  const scratch = { wp: new Float64Array(d), gp: new Float64Array(d), gm: new Float64Array(d), block: new Uint32Array(2) };
  const weights = new Float64Array(d);
  const stepKeyBase = foldIn(o.key, 1);
  const probeKeyBase = foldIn(o.key, 2);
  let fge = 0;

  // 1. Curvature at w*: a first step at which no direction is unstable.
  const k0 = foldIn(probeKeyBase, 0);
  if (rows) randintInto(foldIn(k0, 1), rows, n, scratch.block);
  const tr0 = hutchinsonTrace(posterior, posterior.wStar, null, rows, Math.max(4, 2 * o.probes), foldIn(k0, 2), scratch);
  fge += Math.max(4, 2 * o.probes) * probeFge;
  let eps = 1 / (posterior.nBeta * Math.max(tr0, 0) + posterior.gamma);
  if (!(tr0 > 0)) eps = 1 / (posterior.nBeta + posterior.gamma);
  const initialEps = eps;

  let state = kernel.init(o.init, o.key);
  const backup = kernel.init(o.init, o.key);
  const history: CalibrationRound[] = [];
  const minSteps = o.minSteps ?? 0;
  const extraRounds = Math.ceil(minSteps / o.roundSteps);
  const maxRounds = o.rounds + extraRounds + 4; // room for settling and divergence restarts
  let stepsTaken = 0;
  const half = Math.floor(o.roundSteps / 2);
  const lnEvery = Math.max(1, Math.floor((o.roundSteps - half) / LN_POINTS));
  const stepKey: [number, number] = [0, 0];
  let predicted: number | null = null;
  let converged = 0;
  for (let r = 0; r < maxRounds && (converged < o.rounds || stepsTaken < minSteps); r++) {
    converged++;
    backup.position.set(state.position);
    backup.v.set(state.v);
    backup.m.set(state.m);
    backup.t = state.t;
    kernel.stepSize = eps;
    const roundKey = foldIn(stepKeyBase, r);
    let lamSum = 0;
    let trSum = 0;
    let cnt = 0;
    let diverged = false;
    for (let t = 0; t < o.roundSteps; t++) {
      const out = kernel.step(state, foldInInto(roundKey, t, stepKey, scratch.block));
      state = out.state;
      fge += out.info.fge;
      stepsTaken++;
      if (t < half || (t - half + 1) % lnEvery !== 0) continue;
      const Ln = posterior.lossAt(state.position);
      fge += 1;
      if (!Number.isFinite(Ln)) {
        diverged = true;
        break;
      }
      const pk = foldIn(foldIn(probeKeyBase, r + 1), t);
      if (rows) randintInto(foldIn(pk, 1), rows, n, scratch.block);
      for (let i = 0; i < d; i++) weights[i] = kernel.stepSizes[i]! / eps;
      trSum += hutchinsonTrace(posterior, state.position, weights, rows, o.probes, foldIn(pk, 2), scratch);
      fge += o.probes * probeFge;
      lamSum += posterior.llcOf(Ln);
      cnt++;
    }
    let finite = !diverged;
    for (let i = 0; i < d && finite; i++) finite = Number.isFinite(state.position[i]!);
    if (!finite) {
      history.push({ round: r, step_size: eps, lambda_hat: null, trace_DH: null, predicted_bias: null, diverged: true });
      state.position.set(backup.position);
      state.v.set(backup.v);
      state.m.set(backup.m);
      state.t = backup.t;
      eps /= 10;
      converged--; // a restart does not use up a round
      continue;
    }
    const lam = cnt > 0 ? lamSum / cnt : Number.NaN;
    const tr = cnt > 0 ? trSum / cnt : Number.NaN;
    predicted = lam > 0 && tr > 0 ? ((o.biasFactor ?? 1) * eps * posterior.nBeta * tr) / (8 * lam) : null;
    history.push({
      round: r,
      step_size: eps,
      lambda_hat: Number.isFinite(lam) ? lam : null,
      trace_DH: Number.isFinite(tr) ? tr : null,
      predicted_bias: predicted,
      diverged: false,
    });
    let wanted: number;
    if (predicted !== null) wanted = (eps * o.targetBias) / predicted;
    else if (tr > 0) {
      // lambda-hat <= 0 (w* is not a minimum, or too few draws): fall back to bounding every
      // direction's own inflation, eps k_j / 4 <= target_bias with k_j <= n beta tr(D H).
      wanted = (4 * o.targetBias) / (posterior.nBeta * tr);
    } else continue; // no information this round: keep eps
    const next = Math.min(4 * eps, Math.max(eps / 16, wanted));
    const moved = Math.abs(next / eps - 1);
    eps = next;
    if (moved < 0.15 && r >= 1 && stepsTaken >= minSteps) break;
  }
  const last = history[history.length - 1];
  return {
    stepSize: eps,
    state,
    fge,
    report: {
      rule: 'eps = 8 target_bias lambda / (n beta tr(D H)) (Gaussian ULA bias bound; see calibrate.ts)',
      target_bias: o.targetBias,
      trace_H_at_wstar: tr0,
      initial_step_size: initialEps,
      predicted_bias: last && last.predicted_bias !== null && last.step_size > 0 ? (last.predicted_bias * eps) / last.step_size : null,
      rounds: history,
    },
  };
}
