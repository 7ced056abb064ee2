/**
 * The chain runner every sampler uses, and the plug-in API for samplers.
 *
 * PLUG-IN API (how to add a sampler)
 * ---------------------------------
 * A sampler is a module `src/samplers/<name>.ts` that exports `sampler: SamplerDef<Cfg>`;
 * `registry.ts` maps the name (and aliases) to that module and loads it lazily. A SamplerDef:
 *
 *   schema    zod schema of the sampler's config (the `overrides` of a sampler entry). Give
 *             every key a default, use `.strict()` so unknown keys are errors, and include
 *             the common keys of `baseSamplerShape` (eval_every, ...) where they make sense.
 *   schedule  cfg -> {steps, burnIn, evalEvery}: kernel steps after tuning, how many of them
 *             are discarded (the runner overrides burnIn with `chains.burn_in` when set), and
 *             how often the full-data L_n is evaluated and a trace row recorded. Draw-based
 *             samplers (HMC, MCLMC) return steps = draws, evalEvery = 1, burnIn = 0.
 *   prepare   ctx -> {kernel, state?, tuned, fge}: per-chain tuning/adaptation (HMC window
 *             adaptation, MCLMC L and step size, SGLD step calibration) and kernel
 *             construction. Runs once per chain before sampling, with ctx.key (its own stream,
 *             independent of the sampling steps), from ctx.init (w* + init_noise N(0, I)).
 *             Return the kernel, optionally the state to start sampling from (else
 *             kernel.init(ctx.init, ...)), `tuned` (JSON values recorded per chain in the
 *             manifest, e.g. {step_size, inverse_mass_matrix_mean}) and `fge`, the work of the
 *             tuning in full-gradient equivalents. Throw for configs that cannot run.
 *   share     optional, (tuned of every chain, cfg) -> shared values: tuning pooled over the
 *             chains of a run (SGLD: one step size for all chains, the median of the chains'
 *             calibrated steps, so that the chains sample the same distribution and R-hat
 *             compares like with like). When present, every chain is prepared first, then
 *             `adopt(prepared, shared, cfg)` applies the shared values to each chain (and
 *             returns its final `tuned`), and `schedule(cfg, shared)` may depend on them
 *             (SGLD's auto length is a number of relaxation times at the shared step).
 *   columns   StepInfo fields recorded as trace columns (a list or cfg -> list). The value of
 *             a row is the mean of the field over the steps since the previous row that
 *             reported it (booleans count as 0/1; NaN if none did), except `diverging`, which
 *             is the count of divergent steps in that window.
 *
 * Kernels implement `Kernel` from types.ts. `step(state, key)` gets a key that is only valid
 * during the call (the runner reuses its buffer: derive sub-keys with foldIn, do not keep
 * it). `info.fge` is the work of the step (b-row minibatch gradient = b/n, full gradient or
 * full loss = 1). A kernel that already computed the full-data loss at the new position may
 * set `info.Ln`; the runner then records it instead of evaluating L_n again.
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
import type { Key } from '../../rng/index.js';
import { foldInInto, keyAt, normalInto, Stream } from '../../rng/index.js';
import type { z } from 'zod';
import type { Kernel, Posterior, SamplerState, StepInfo } from '../kernels/types.js';
import { burnInSteps, type ChainSettings } from './settings.js';

export interface Schedule {
  /** Kernel steps after tuning (burn-in included). */
  steps: number;
  /** Steps discarded before recording. */
  burnIn: number;
  /** L_n evaluated and a row recorded every evalEvery steps. */
  evalEvery: number;
}

/** Any JSON value (numbers finite). */
export type TunedValue = unknown;

/** Tuning pooled over the chains of a run (plain JSON: it is sent to worker threads). */
export type SharedTuning = Record<string, TunedValue>;

export interface PrepareContext<C> {
  posterior: Posterior;
  cfg: C;
  chain: number;
  /** The chain's tuning key: keyAt(seed, Stream.tune, chain). */
  key: Key;
  /** The chain's initial position w* + init_noise N(0, I); prepare may keep and mutate it. */
  init: Float64Array;
  schedule: Schedule;
}

export interface Prepared<S extends SamplerState = SamplerState> {
  kernel: Kernel<S, StepInfo>;
  /** State to start sampling from (e.g. after adaptation); else kernel.init(ctx.init, key). */
  state?: S;
  /** Tuned values recorded per chain in the manifest. */
  tuned: Record<string, TunedValue>;
  /** Work of the tuning in full-gradient equivalents. */
  fge: number;
}

export interface SamplerDef<C = Record<string, unknown>> {
  readonly name: string;
  readonly summary: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly schema: z.ZodType<C, any>;
  /** `shared` is given after pooling (see `share`); without it, a provisional schedule. */
  schedule(cfg: C, shared?: SharedTuning): Schedule;
  prepare(ctx: PrepareContext<C>): Prepared<SamplerState>;
  /** Pools the chains' tuning into values every chain uses (see the plug-in API above). */
  share?(tuned: readonly Record<string, TunedValue>[], cfg: C): SharedTuning;
  /** Applies the shared values to one prepared chain; returns that chain's final `tuned`. */
  adopt?(prepared: Prepared<SamplerState>, shared: SharedTuning, cfg: C): Record<string, TunedValue>;
  /** Recorded StepInfo fields (a list, or a function of the config). */
  readonly columns: readonly string[] | ((cfg: C) => readonly string[]);
}

export interface ChainFailure {
  chain: number;
  step: number;
  reason: string;
}

export interface ChainResult {
  chain: number;
  /** Trace columns of this chain (chain, draw, step, Ln, llc, cumulative_fge, time_s, ...). */
  columns: Record<string, Float64Array | Int32Array>;
  tuned: Record<string, TunedValue>;
  tune_fge: number;
  sample_fge: number;
  /** Work of the L_n evaluations (1 per evaluation), not part of cumulative_fge. */
  eval_fge: number;
  tune_time_s: number;
  sample_time_s: number;
  steps_done: number;
  failure: ChainFailure | null;
}

export interface Progress {
  chain: number;
  step: number;
  steps: number;
  /** Running mean of this chain's llc draws (NaN before the first). */
  llcMean: number;
}

export interface RunChainOptions<C> {
  posterior: Posterior;
  def: SamplerDef<C>;
  cfg: C;
  chains: ChainSettings;
  seed: number;
  chain: number;
  /**
   * The run's pooled tuning (def.share over all chains). Omitted for a sampler with `share`,
   * the chain pools its own tuning alone (a run of one chain).
   */
  shared?: SharedTuning;
  /** Called after each recorded row; throttle on the caller's side. */
  onProgress?: (p: Progress) => void;
}

/** The schedule with the chain settings' burn-in applied. */
export function resolveSchedule<C>(def: SamplerDef<C>, cfg: C, chains: ChainSettings, shared?: SharedTuning): Schedule {
  const s = def.schedule(cfg, shared);
  if (!Number.isInteger(s.steps) || s.steps < 1) throw new Error(`${def.name}: steps must be a positive integer, got ${s.steps}`);
  if (!Number.isInteger(s.evalEvery) || s.evalEvery < 1) throw new Error(`${def.name}: eval_every must be a positive integer, got ${s.evalEvery}`);
  const burnIn = burnInSteps(chains.burn_in, s.steps, s.burnIn);
  if (burnIn >= s.steps) throw new Error(`${def.name}: burn-in (${burnIn}) leaves no steps to record (steps = ${s.steps})`);
  if (s.steps - burnIn < s.evalEvery) {
    throw new Error(`${def.name}: ${s.steps - burnIn} kept steps record nothing with eval_every = ${s.evalEvery}`);
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

/** A chain after tuning, before sampling (see prepareChain / sampleChain). */
export interface PreparedChain {
  chain: number;
  prepared: Prepared<SamplerState>;
  init: Float64Array;
  /** performance.now() when the chain began and when its tuning ended. */
  t0: number;
  tTuned: number;
}

/** Initial position and the sampler's tuning of one chain. Deterministic given (seed, chain). */
export function prepareChain<C>(opts: Omit<RunChainOptions<C>, 'shared' | 'onProgress'>): PreparedChain {
  const { posterior, def, cfg, chains, seed, chain } = opts;
  const t0 = performance.now();
  const init = initialPosition(posterior, seed, chain, chains.init_noise);
  // Before pooling the schedule is provisional (a sampler with `share` may size its run from
  // the shared tuning); samplers that read ctx.schedule have no `share`.
  const schedule = resolveSchedule(def, cfg, chains);
  const prepared = def.prepare({ posterior, cfg, chain, key: keyAt(seed, Stream.tune, chain), init, schedule });
  return { chain, prepared, init, t0, tTuned: performance.now() };
}

/** The shared tuning of a run from its chains' tuned values (undefined: the sampler pools nothing). */
export function shareTuning<C>(def: SamplerDef<C>, cfg: C, tuned: readonly Record<string, TunedValue>[]): SharedTuning | undefined {
  return def.share ? def.share(tuned, cfg) : undefined;
}

/** Runs one chain: tuning, burn-in, sampling, recording. Deterministic given (seed, chain) and the shared tuning. */
export function runChain<C>(opts: RunChainOptions<C>): ChainResult {
  const p = prepareChain(opts);
  const shared = opts.shared ?? shareTuning(opts.def, opts.cfg, [p.prepared.tuned]);
  return sampleChain(opts, p, shared);
}

/** Applies the shared tuning to a prepared chain, then burn-in, sampling and recording. */
export function sampleChain<C>(opts: Omit<RunChainOptions<C>, 'shared'>, p: PreparedChain, shared: SharedTuning | undefined): ChainResult {
  const { posterior, def, cfg, chains, seed, chain } = opts;
  const { prepared, init } = p;
  // Chains of one thread are all prepared before any samples, so time is tuning + own sampling.
  const tuneMs = p.tTuned - p.t0;
  const tSample = performance.now();
  const tuned = shared !== undefined && def.adopt ? def.adopt(prepared, shared, cfg) : prepared.tuned;
  const schedule = resolveSchedule(def, cfg, chains, shared);
  const { kernel } = prepared;
  const chainKey = keyAt(seed, Stream.chain, chain);
  let state = prepared.state ?? kernel.init(init, keyAt(seed, Stream.init, chain, 1));

  const rows = Math.floor((schedule.steps - schedule.burnIn) / schedule.evalEvery);
  const stepCol = new Int32Array(rows);
  const LnCol = new Float64Array(rows);
  const llcCol = new Float64Array(rows);
  const fgeCol = new Float64Array(rows);
  const timeCol = new Float64Array(rows);
  const names = typeof def.columns === 'function' ? def.columns(cfg) : def.columns;
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
  let t = 0;
  for (t = 1; t <= schedule.steps; t++) {
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
    opts.onProgress?.({ chain, step: t, steps: schedule.steps, llcMean: llcSum / row });
  }
  const tEnd = performance.now();
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
    steps_done: failure ? failure.step : schedule.steps,
    failure,
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
