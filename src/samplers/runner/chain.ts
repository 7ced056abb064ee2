/**
 * One chain of a run: its initial position, its preparation (the sampler's adaptation, exactly
 * once), then burn-in, sampling and recording. What a sampler must provide is in ../sampler.ts;
 * chains.ts runs the chains of a run, in this thread or in worker threads.
 *
 * Kernels implement `Kernel` from ../kernels/types.ts. `step(state, key)` gets a key that is
 * only valid during the call (the runner reuses its buffer: derive sub-keys with foldIn, do not
 * keep it). `info.fge` is the work of the step (b-row minibatch gradient = b/n, full gradient or
 * full loss = 1). A kernel that already computed the full-data loss at the new position may set
 * `info.Ln`; the runner then records it instead of evaluating L_n again.
 *
 * WHAT THE RUNNER DOES
 * - Chain c uses keys derived only from (seed, c): init keyAt(seed, init, c), tuning
 *   keyAt(seed, tune, c), step t foldIn(keyAt(seed, chain, c), t). The traces are therefore
 *   identical whatever the thread count or chain order.
 * - Records a row after step t (1-based) when t > burnIn and (t - burnIn) % evalEvery == 0:
 *   `chain`, `draw`, `step` (= t), `Ln`, `llc` = n beta (Ln - L0), `cumulative_fge` (tuning
 *   + sampling work so far, excluding the L_n evaluations, which are measurement, not
 *   sampling; those are reported separately as eval_fge), `time_s` (since the chain began,
 *   tuning included), and the sampler's columns. Traces hold kept draws only.
 * - A chain whose position or L_n becomes non-finite stops; its reason and step are recorded,
 *   its rows so far are kept, the other chains finish.
 */
import { foldInInto, keyAt, normalInto, Stream } from '../../rng/index.js';
import { PROGRESS_INTERVAL_MS, type ChainFailure, type ChainProgress, type ChainResult, type ChainSettings } from '../../contracts/index.js';
import type { Posterior } from '../../posterior/types.js';
import type { ConfiguredSampler, Prepared, Schedule, SharedTuning } from '../sampler.js';
import { burnInSteps } from './settings.js';

export type { ChainResult };
/** Progress of a chain's tuning and sampling (time-throttled). */
export type Progress = ChainProgress;

export interface ChainOptions {
  posterior: Posterior;
  sampler: ConfiguredSampler;
  chains: ChainSettings;
  seed: number;
  chain: number;
  /**
   * Called at most every `progressIntervalMs` while the chain tunes and while it samples, and at
   * the end of each (so every chain reports at least once).
   */
  onProgress?: (p: Progress) => void;
  progressIntervalMs?: number;
  /**
   * Unix ms by which this chain's sampling must end (its share of a time budget): the chain stops
   * after the step at which it passes, keeping the draws it has. Tuning is never cut short.
   */
  deadlineMs?: number | null;
}

/**
 * A chain's share of a run's deadline: the time left divided evenly among the chains this
 * thread still has to sample (this one included), so a budget never starves the last chains.
 */
export function chainDeadline(deadlineMs: number | null | undefined, chainsLeft: number, now = Date.now()): number | null {
  if (deadlineMs === null || deadlineMs === undefined) return null;
  return now + Math.max(0, deadlineMs - now) / Math.max(1, chainsLeft);
}

/** The schedule with the chain settings' burn-in applied. */
export function resolveSchedule(sampler: ConfiguredSampler, chains: ChainSettings, shared?: SharedTuning): Schedule {
  const s = sampler.schedule(shared);
  const name = sampler.name;
  if (!Number.isInteger(s.steps) || s.steps < 1) throw new Error(`${name}: steps must be a positive integer, got ${s.steps}`);
  if (!Number.isInteger(s.evalEvery) || s.evalEvery < 1) throw new Error(`${name}: eval_every must be a positive integer, got ${s.evalEvery}`);
  const burnIn = burnInSteps(chains.burn_in, s.steps, s.burnIn);
  if (burnIn >= s.steps) throw new Error(`${name}: burn-in (${burnIn}) leaves no steps to record (steps = ${s.steps})`);
  if (s.steps - burnIn < s.evalEvery) {
    throw new Error(`${name}: ${s.steps - burnIn} kept steps record nothing with eval_every = ${s.evalEvery}`);
  }
  return { steps: s.steps, burnIn, evalEvery: s.evalEvery };
}

/** w* + initNoise N(0, I) from keyAt(seed, init, chain). */
export function initialPosition(posterior: Posterior, seed: number, chain: number, initNoise: number): Float64Array {
  const w = normalInto(keyAt(seed, Stream.init, chain), new Float64Array(posterior.dim));
  for (let i = 0; i < w.length; i++) w[i] = posterior.wStar[i]! + initNoise * w[i]!;
  return w;
}

function allFinite(x: Float64Array): boolean {
  let s = 0;
  // A sum is non-finite iff some term is non-finite (or it overflows, also a failure).
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return Number.isFinite(s);
}

/** A chain after its preparation, before sampling (see prepareChain / sampleChain). */
export interface PreparedChain {
  chain: number;
  prepared: Prepared;
  init: Float64Array;
  /** performance.now() when the chain began and when its preparation ended. */
  t0: number;
  tTuned: number;
}

/**
 * The chain's initial position and the sampler's preparation of it (its adaptation): the only
 * place a chain is prepared. Deterministic given (seed, chain).
 */
export function prepareChain(opts: ChainOptions): PreparedChain {
  const { sampler, chains, seed, chain } = opts;
  const t0 = performance.now();
  const init = initialPosition(opts.posterior, seed, chain, chains.init_noise);
  // Before pooling the schedule is provisional (a sampler that shares its tuning may size its
  // run from the shared values); samplers that read ctx.schedule share nothing.
  const schedule = resolveSchedule(sampler, chains);
  const watch = opts.onProgress ? tuningWatch(opts.posterior, chain, opts.onProgress, opts.progressIntervalMs ?? PROGRESS_INTERVAL_MS) : null;
  const posterior = watch ? watch.posterior : opts.posterior;
  const prepared = sampler.prepare({ posterior, chain, key: keyAt(seed, Stream.tune, chain), init, schedule });
  watch?.end();
  return { chain, prepared, init, t0, tTuned: performance.now() };
}

/**
 * The posterior as the adaptation sees it while a chain tunes: the same numbers, with every
 * evaluation counted (in full-gradient equivalents) so the tuning reports its progress without
 * any adaptation knowing about clocks. After `end()` (tuning done) it only forwards.
 */
function tuningWatch(
  inner: Posterior,
  chain: number,
  onProgress: (p: Progress) => void,
  intervalMs: number,
): { posterior: Posterior; end: () => void } {
  const t0 = performance.now();
  let last = t0;
  let fge = 0;
  let tuning = true;
  const tick = (work: number): void => {
    if (!tuning) return;
    fge += work;
    const t = performance.now();
    if (t - last < intervalMs) return;
    last = t;
    onProgress({ phase: 'tune', chain, fge, elapsed_s: (t - t0) / 1000 });
  };
  const posterior: Posterior = {
    dim: inner.dim,
    n: inner.n,
    beta: inner.beta,
    gamma: inner.gamma,
    nBeta: inner.nBeta,
    wStar: inner.wStar,
    L0: inner.L0,
    lossAndGrad(w, grad, rows) {
      const L = inner.lossAndGrad(w, grad, rows);
      tick(rows ? rows.length / inner.n : 1);
      return L;
    },
    potentialAndGrad(w, grad, rows) {
      const U = inner.potentialAndGrad(w, grad, rows);
      tick(rows ? rows.length / inner.n : 1);
      return U;
    },
    lossAt(w) {
      const L = inner.lossAt(w);
      tick(1);
      return L;
    },
    llcOf: (Ln) => inner.llcOf(Ln),
  };
  return {
    posterior,
    end: () => {
      if (!tuning) return;
      tuning = false;
      onProgress({ phase: 'tune', chain, fge, elapsed_s: (performance.now() - t0) / 1000 });
    },
  };
}

/** The run's shared tuning from its chains' tuned values (undefined: the sampler pools nothing). */
export function shareTuning(sampler: ConfiguredSampler, tuned: readonly SharedTuning[]): SharedTuning | undefined {
  return sampler.share ? sampler.share(tuned) : undefined;
}

/** Runs one chain alone: preparation, its own tuning as the shared one, burn-in, sampling, recording. */
export function runChain(opts: ChainOptions): ChainResult {
  const p = prepareChain(opts);
  return sampleChain(opts, p, shareTuning(opts.sampler, [p.prepared.tuned]));
}

/** Applies the shared tuning to a prepared chain, then burn-in, sampling and recording. */
export function sampleChain(opts: ChainOptions, p: PreparedChain, shared: SharedTuning | undefined): ChainResult {
  const { posterior, sampler, chains, seed, chain } = opts;
  const { prepared, init } = p;
  // Chains of one thread are all prepared before any samples, so time is tuning + own sampling.
  const tuneMs = p.tTuned - p.t0;
  const tSample = performance.now();
  const tuned = shared !== undefined && prepared.adopt ? prepared.adopt(shared) : prepared.tuned;
  const schedule = resolveSchedule(sampler, chains, shared);
  const { kernel } = prepared;
  const chainKey = keyAt(seed, Stream.chain, chain);
  let state = prepared.state ?? kernel.init(init, keyAt(seed, Stream.init, chain, 1));

  const rows = Math.floor((schedule.steps - schedule.burnIn) / schedule.evalEvery);
  const stepCol = new Int32Array(rows);
  const LnCol = new Float64Array(rows);
  const llcCol = new Float64Array(rows);
  const fgeCol = new Float64Array(rows);
  const timeCol = new Float64Array(rows);
  const names = sampler.columns;
  const extra = names.map(() => new Float64Array(rows));
  const sums = new Float64Array(names.length);
  // Fields a kernel reports only on some steps (e.g. a diagnostic every k steps) are averaged
  // over the steps that reported them; a window with none records NaN.
  const counts = new Float64Array(names.length);

  // The step key lives in one reused buffer: no allocation per step.
  const kbuf = new Uint32Array(2);
  const stepKey: [number, number] = [0, 0];
  let fge = prepared.fge;
  let sampleFge = 0;
  let evalFge = 0;
  let row = 0;
  let llcSum = 0;
  let failure: ChainFailure | null = null;
  let stoppedByBudget = false;
  const deadline = opts.deadlineMs ?? null;
  const interval = opts.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
  let lastReport = tSample;
  const report = (step: number, now: number): void => {
    lastReport = now;
    opts.onProgress!({ phase: 'sample', chain, step, steps: schedule.steps, llcMean: row > 0 ? llcSum / row : Number.NaN, elapsed_s: (now - tSample) / 1000 });
  };
  let t = 0;
  for (t = 1; t <= schedule.steps; t++) {
    if (deadline !== null && t > 1 && Date.now() >= deadline) {
      // The budget ends the chain cleanly between steps: what it recorded so far is kept.
      stoppedByBudget = true;
      t -= 1;
      break;
    }
    if (opts.onProgress) {
      const now = performance.now();
      if (now - lastReport >= interval) report(t - 1, now);
    }
    const out = kernel.step(state, foldInInto(chainKey, t - 1, stepKey, kbuf));
    state = out.state;
    const info = out.info;
    fge += info.fge;
    sampleFge += info.fge;
    if (!allFinite(state.position)) {
      failure = { chain, step: t, reason: 'position became non-finite (NaN or Infinity): the step size is too large for this target or the sampler diverged' };
      break;
    }
    if (t <= schedule.burnIn) continue;
    for (let j = 0; j < names.length; j++) {
      const v = info[names[j]!];
      if (v === undefined) continue;
      sums[j]! += typeof v === 'boolean' ? (v ? 1 : 0) : v;
      counts[j]! += 1;
    }
    if ((t - schedule.burnIn) % schedule.evalEvery !== 0) continue;
    let Ln: number;
    if (typeof info.Ln === 'number') {
      Ln = info.Ln;
    } else {
      Ln = posterior.lossAt(state.position);
      evalFge += 1;
    }
    if (!Number.isFinite(Ln)) {
      failure = { chain, step: t, reason: `full-data loss L_n became non-finite (${Ln})` };
      break;
    }
    const llc = posterior.llcOf(Ln);
    stepCol[row] = t;
    LnCol[row] = Ln;
    llcCol[row] = llc;
    fgeCol[row] = fge;
    timeCol[row] = (tuneMs + performance.now() - tSample) / 1000;
    for (let j = 0; j < names.length; j++) {
      extra[j]![row] = names[j] === 'diverging' ? sums[j]! : counts[j]! > 0 ? sums[j]! / counts[j]! : Number.NaN;
      sums[j] = 0;
      counts[j] = 0;
    }
    llcSum += llc;
    row++;
  }
  if (stoppedByBudget && row === 0 && failure === null) {
    failure = {
      chain,
      step: t,
      reason: `the time budget ended it after ${t} of ${schedule.steps} steps, before its first recorded draw (burn-in ${schedule.burnIn})`,
    };
  }
  const stepsDone = failure ? failure.step : stoppedByBudget ? t : schedule.steps;
  const tEnd = performance.now();
  if (opts.onProgress) report(stepsDone, tEnd);
  const columns: Record<string, Float64Array | Int32Array> = {
    chain: new Int32Array(row).fill(chain),
    draw: Int32Array.from({ length: row }, (_, i) => i),
    step: stepCol.slice(0, row),
    Ln: LnCol.slice(0, row),
    llc: llcCol.slice(0, row),
    cumulative_fge: fgeCol.slice(0, row),
    time_s: timeCol.slice(0, row),
  };
  names.forEach((name, j) => {
    columns[name] = extra[j]!.slice(0, row);
  });
  return {
    chain,
    columns,
    tuned,
    tune_fge: prepared.fge,
    sample_fge: sampleFge,
    eval_fge: evalFge,
    tune_time_s: tuneMs / 1000,
    sample_time_s: (tEnd - tSample) / 1000,
    steps_done: stepsDone,
    failure,
    stopped_by_budget: stoppedByBudget && row > 0,
  };
}

/** Concatenates chain results (in chain order) into one trace table. */
export function concatTraces(results: readonly ChainResult[]): Record<string, Float64Array | Int32Array> {
  const sorted = [...results].sort((a, b) => a.chain - b.chain);
  const names = Object.keys(sorted[0]?.columns ?? {});
  const out: Record<string, Float64Array | Int32Array> = {};
  for (const name of names) {
    const total = sorted.reduce((s, r) => s + r.columns[name]!.length, 0);
    const first = sorted[0]!.columns[name]!;
    const col = first instanceof Int32Array ? new Int32Array(total) : new Float64Array(total);
    let off = 0;
    for (const r of sorted) {
      col.set(r.columns[name]! as never, off);
      off += r.columns[name]!.length;
    }
    out[name] = col;
  }
  return out;
}
