/**
 * Proposals of a hyperparameter search: random search and the Tree-structured Parzen Estimator
 * (TPE; Bergstra et al. 2011, in the univariate form Optuna's TPESampler uses by default).
 *
 * TPE splits the finished trials into the best fraction ("below", at most 25) and the rest
 * ("above"), fits a Parzen estimator (a weighted mixture of truncated Gaussians, one per
 * observation, plus a broad prior component) to each, draws candidates from the "below" density
 * l(x) and keeps the one maximising l(x) / g(x), parameter by parameter. Floats may be searched
 * on a log scale and on a grid (`step`); integers are floats rounded to their grid, with the
 * bounds widened by half a step so the end values are as likely as the others; categorical
 * parameters use smoothed frequencies. The first `n_startup_trials` trials are random.
 *
 * A failed or timed-out trial counts as worse than every finished one (it joins "above"), so the
 * search moves away from settings that crash or run out of time.
 *
 * Every draw comes from a counter-based key of (seed, trial number, parameter), so the proposal
 * of a trial depends only on the seed, its number and the trials it was proposed after: a study
 * that proposes in batches is reproducible and resumes to the same proposals.
 */
import { keyAt, threefry2x32Into, type Key } from '../rng/index.js';
import type { JsonValue } from '../contracts/index.js';

export type ParamSpec =
  | { dist: 'float'; low: number; high: number; log: boolean; step: number | null }
  | { dist: 'int'; low: number; high: number; log: boolean; step: number }
  | { dist: 'categorical'; choices: JsonValue[] };

/** Parameters in search order (the order of the config file). */
export type SearchSpace = ReadonlyArray<readonly [string, ParamSpec]>;

export type Params = Record<string, JsonValue>;

export interface Observation {
  params: Params;
  /** The objective (lower is better); null for a failed or timed-out trial. */
  value: number | null;
}

export interface SearchSettings {
  type: 'tpe' | 'random';
  seed: number;
  /** Random trials before TPE takes over (Optuna's default: 10). */
  n_startup_trials: number;
  /** Candidates drawn from l(x) per parameter (Optuna: 24). */
  n_ei_candidates?: number;
  /** Weight of the prior component of each Parzen estimator (Optuna: 1). */
  prior_weight?: number;
}

/** Uniform draws in [0, 1) from a threefry key and a counter. */
class Uniforms {
  private i = 0;
  private readonly block = new Uint32Array(2);
  constructor(private readonly key: Key) {}
  next(): number {
    threefry2x32Into(this.key[0], this.key[1], 0, this.i++, this.block, 0);
    return (this.block[0]! * 2 ** 20 + (this.block[1]! >>> 12)) * 2 ** -52;
  }
  /** A standard normal draw (Box-Muller; one of the pair). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/** A numeric parameter in the space TPE works in: log-scaled when asked, bounds widened for grids. */
interface NumericSpace {
  low: number;
  high: number;
  toInternal: (v: number) => number;
  fromInternal: (x: number) => number;
}

function numericSpace(p: Extract<ParamSpec, { dist: 'float' | 'int' }>): NumericSpace {
  const step = p.step;
  const half = step !== null && !p.log ? step / 2 : p.dist === 'int' ? 0.5 : 0;
  const lo = p.low - half;
  const hi = p.high + half;
  const snap = (v: number): number => {
    let out = Math.min(p.high, Math.max(p.low, v));
    if (step !== null && !p.log) out = p.low + Math.round((out - p.low) / step) * step;
    if (p.dist === 'int') out = Math.round(out);
    // Grid values as the decimal a user wrote (0.1 + 2 * 0.1, not 0.30000000000000004).
    return Math.min(p.high, Math.max(p.low, Number(out.toPrecision(12))));
  };
  if (p.log) {
    return { low: Math.log(lo), high: Math.log(hi), toInternal: Math.log, fromInternal: (x) => snap(Math.exp(x)) };
  }
  return { low: lo, high: hi, toInternal: (v) => v, fromInternal: snap };
}

const SQRT2 = Math.SQRT2;

/** erf from Numerical Recipes' Chebyshev fit of erfc (fractional error below 1.2e-7). */
function erf(x: number): number {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.5 * a);
  const y = t * Math.exp(-a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return s * (1 - y);
}

function normalCdf(z: number): number {
  return 0.5 * (1 + erf(z / SQRT2));
}

/** A weighted mixture of Gaussians truncated to [low, high]. */
interface Parzen {
  mus: number[];
  sigmas: number[];
  weights: number[];
  low: number;
  high: number;
}

/** Optuna's default weights: flat for the newest 25 observations, a ramp for older ones. */
function observationWeights(n: number): number[] {
  if (n < 25) return new Array<number>(n).fill(1);
  const ramp = n - 25;
  const out: number[] = [];
  for (let i = 0; i < ramp; i++) out.push(ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1));
  for (let i = 0; i < 25; i++) out.push(1);
  return out;
}

function parzen(values: readonly number[], low: number, high: number, priorWeight: number): Parzen {
  const range = high - low;
  const prior = { mu: (low + high) / 2, sigma: range };
  const obsW = observationWeights(values.length);
  const comps = values.map((mu, i) => ({ mu, w: obsW[i]!, prior: false }));
  comps.push({ mu: prior.mu, w: priorWeight, prior: true });
  const order = comps.map((_, i) => i).sort((a, b) => comps[a]!.mu - comps[b]!.mu);
  const sorted = order.map((i) => comps[i]!.mu);
  const sigmas = new Array<number>(comps.length);
  // Bandwidth: the larger gap to a neighbour (the end components see only their inner neighbour).
  for (let k = 0; k < sorted.length; k++) {
    const left = k > 0 ? sorted[k]! - sorted[k - 1]! : -Infinity;
    const right = k < sorted.length - 1 ? sorted[k + 1]! - sorted[k]! : -Infinity;
    let s = Math.max(left, right);
    if (!Number.isFinite(s)) s = range;
    sigmas[order[k]!] = s;
  }
  // Optuna's "magic clip": no bandwidth below range / min(100, 1 + n), none above the range.
  const minSigma = range / Math.min(100, 1 + comps.length);
  const out: Parzen = { mus: [], sigmas: [], weights: [], low, high };
  const total = comps.reduce((a, c) => a + c.w, 0);
  comps.forEach((c, i) => {
    out.mus.push(c.mu);
    out.sigmas.push(c.prior ? prior.sigma : Math.min(range, Math.max(minSigma, sigmas[i]!)));
    out.weights.push(c.w / total);
  });
  return out;
}

function parzenSample(p: Parzen, u: Uniforms): number {
  let r = u.next();
  let k = 0;
  while (k < p.weights.length - 1 && r >= p.weights[k]!) {
    r -= p.weights[k]!;
    k++;
  }
  const mu = p.mus[k]!;
  const s = p.sigmas[k]!;
  // Rejection from the component's normal: its mean lies in [low, high] and sigma <= range,
  // so at least a third of its mass is inside and this ends quickly.
  for (let tries = 0; tries < 1000; tries++) {
    const x = mu + s * u.normal();
    if (x >= p.low && x <= p.high) return x;
  }
  return Math.min(p.high, Math.max(p.low, mu));
}

function parzenLogPdf(p: Parzen, x: number): number {
  let sum = 0;
  for (let k = 0; k < p.mus.length; k++) {
    const mu = p.mus[k]!;
    const s = p.sigmas[k]!;
    const mass = normalCdf((p.high - mu) / s) - normalCdf((p.low - mu) / s);
    const z = (x - mu) / s;
    sum += (p.weights[k]! * Math.exp(-0.5 * z * z)) / (s * Math.sqrt(2 * Math.PI) * Math.max(mass, 1e-12));
  }
  return Math.log(Math.max(sum, 1e-300));
}

function choiceIndex(choices: readonly JsonValue[], v: JsonValue | undefined): number {
  const key = JSON.stringify(v);
  return choices.findIndex((c) => JSON.stringify(c) === key);
}

function categoricalProbs(k: number, obs: readonly number[], priorWeight: number): number[] {
  const w = observationWeights(obs.length);
  const p = new Array<number>(k).fill(priorWeight / k);
  obs.forEach((c, i) => {
    if (c >= 0) p[c]! += w[i]!;
  });
  const total = p.reduce((a, b) => a + b, 0);
  return p.map((x) => x / total);
}

/** Random value of one parameter. */
function randomValue(spec: ParamSpec, u: Uniforms): JsonValue {
  if (spec.dist === 'categorical') return spec.choices[Math.min(spec.choices.length - 1, Math.floor(u.next() * spec.choices.length))]!;
  const s = numericSpace(spec);
  return s.fromInternal(s.low + u.next() * (s.high - s.low));
}

/** The number of observations TPE calls "below" (good): Optuna's default, 10% up to 25. */
export function nBelow(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/**
 * The parameters of trial `trialNumber`, proposed after `history` (the finished trials of the
 * same search, failed ones with value null).
 */
export function propose(space: SearchSpace, history: readonly Observation[], settings: SearchSettings, trialNumber: number): Params {
  const out: Params = {};
  const useTpe = settings.type === 'tpe' && history.length >= Math.max(1, settings.n_startup_trials);
  const priorWeight = settings.prior_weight ?? 1;
  const nCand = settings.n_ei_candidates ?? 24;
  // Best first; failed trials last; ties in trial order.
  const ranked = history
    .map((o, i) => ({ o, i }))
    .sort((a, b) => (a.o.value ?? Infinity) - (b.o.value ?? Infinity) || a.i - b.i);
  const cut = nBelow(ranked.length);
  // Each group keeps trial order (the weights favour the newest).
  const below = ranked.slice(0, cut).sort((a, b) => a.i - b.i).map((x) => x.o);
  const above = ranked.slice(cut).sort((a, b) => a.i - b.i).map((x) => x.o);
  space.forEach(([name, spec], paramIndex) => {
    const u = new Uniforms(keyAt(settings.seed >>> 0, trialNumber, paramIndex));
    if (!useTpe || below.length === 0) {
      out[name] = randomValue(spec, u);
      return;
    }
    if (spec.dist === 'categorical') {
      const k = spec.choices.length;
      const l = categoricalProbs(k, below.map((o) => choiceIndex(spec.choices, o.params[name])), priorWeight);
      const g = categoricalProbs(k, above.map((o) => choiceIndex(spec.choices, o.params[name])), priorWeight);
      let best = -1;
      let bestScore = -Infinity;
      for (let c = 0; c < nCand; c++) {
        let r = u.next();
        let idx = 0;
        while (idx < k - 1 && r >= l[idx]!) {
          r -= l[idx]!;
          idx++;
        }
        const score = Math.log(l[idx]!) - Math.log(g[idx]!);
        if (score > bestScore) {
          bestScore = score;
          best = idx;
        }
      }
      out[name] = spec.choices[best]!;
      return;
    }
    const s = numericSpace(spec);
    const values = (group: readonly Observation[]): number[] =>
      group.map((o) => o.params[name]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v)).map(s.toInternal);
    const l = parzen(values(below), s.low, s.high, priorWeight);
    const g = parzen(values(above), s.low, s.high, priorWeight);
    let best = NaN;
    let bestScore = -Infinity;
    for (let c = 0; c < nCand; c++) {
      const x = parzenSample(l, u);
      const score = parzenLogPdf(l, x) - parzenLogPdf(g, x);
      if (score > bestScore) {
        bestScore = score;
        best = x;
      }
    }
    out[name] = s.fromInternal(best);
  });
  return out;
}
