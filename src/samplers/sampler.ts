/**
 * What a sampler is to the rest of the system: a kernel (./kernels), the adaptation that tunes
 * it for one chain (./adaptation), its config schema and run length, and a declaration of
 * what kind of estimate it gives. Each kernel file defines its sampler with `defineSampler`;
 * the registry (./registry.ts) lists them; the runner (./runner) runs their chains.
 *
 * A SamplerDef:
 *   schema    zod schema of the sampler's config (the `overrides` of a sampler entry). Give
 *             every key a default and use `.strict()`, so unknown keys are errors.
 *   traits    what the estimate is (see SamplerTraits); analysis and report read these.
 *   schedule  cfg -> {steps, burnIn, evalEvery}: kernel steps after tuning, how many of them
 *             are discarded (the runner overrides burnIn with `chains.burn_in` when set), and
 *             how often the full-data L_n is evaluated and a trace row recorded. Draw-based
 *             samplers (HMC, MCLMC, MALA) return steps = draws, evalEvery = 1, burnIn = 0.
 *   prepare   ctx -> {kernel, state?, tuned, fge, adopt?}: the chain's adaptation and its
 *             kernel. Runs exactly once per chain, before sampling, with ctx.key (its own
 *             stream, independent of the sampling steps), from ctx.init (w* + init_noise
 *             N(0, I)). Returns the kernel, optionally the state to start sampling from (else
 *             kernel.init(ctx.init, ...)), `tuned` (the chain's tuned values, recorded in the
 *             manifest), `fge` (the work of the tuning in full-gradient equivalents) and, for a
 *             sampler that pools its tuning, `adopt(shared)`: applies the run's shared values to
 *             this chain's kernel and returns the chain's final tuned values.
 *   share     with traits.shares: (tuned of every chain, cfg) -> the run's shared values (SGLD:
 *             one step size for all chains, so that they sample the same distribution and R-hat
 *             compares like with like). `schedule(cfg, shared)` may depend on them.
 *   lengths   optional: the config keys that set the run's length and the work per chain they
 *             plan, so that a work budget can size the lengths an entry leaves at their
 *             defaults (see LengthKeys and Sampler.budgetLengths).
 *   columns   StepInfo fields recorded as trace columns (a list or cfg -> list). The value of
 *             a row is the mean of the field over the steps since the previous row that
 *             reported it (booleans count as 0/1; NaN if none did), except `diverging`, which
 *             is the count of divergent steps in that window.
 */
import type { z } from 'zod';
import type { Key } from '../rng/index.js';
import type { JsonObject } from '../contracts/index.js';
import type { Posterior } from '../posterior/types.js';
import type { Kernel, SamplerState, StepInfo } from './types.js';

export interface Schedule {
  /** Kernel steps after tuning (burn-in included). */
  steps: number;
  /** Steps discarded before recording. */
  burnIn: number;
  /** L_n evaluated and a row recorded every evalEvery steps. */
  evalEvery: number;
}

/** A chain's tuned values (JSON; a NaN is recorded as null). */
export type TunedValues = JsonObject;

/** Tuning pooled over the chains of a run (plain JSON: it is sent to worker threads). */
export type SharedTuning = JsonObject;

/**
 * What kind of estimate a sampler gives; analysis, report and validation read this instead of
 * the sampler's name.
 */
export interface SamplerTraits {
  /**
   * exact: full-data gradients (Metropolis-adjusted or not); stochastic-gradient: minibatch
   * gradients; variational: fits a family q and estimates from draws of q.
   */
  readonly family: 'exact' | 'stochastic-gradient' | 'variational';
  /**
   * What biases the estimate beyond Monte Carlo error: none (a Metropolis-adjusted chain samples
   * the posterior exactly), the step's discretisation (an unadjusted integrator), or the
   * variational family.
   */
  readonly bias: 'none' | 'discretisation' | 'variational';
  /** Tuned values the chains of a run share (pooled by `share`); empty: each chain its own. */
  readonly shares: readonly string[];
  /** Diagnostic thresholds of this sampler. */
  readonly thresholds: {
    /** Mean Metropolis acceptance below which the chain is mis-tuned (a warning). */
    readonly minAcceptance?: number;
    /** Mean `gradient_noise` column above which minibatch noise biases the estimate (a warning). */
    readonly maxGradientNoise?: number;
  };
  /** A caution every estimate of this sampler carries (shown as a warning). */
  readonly caveat?: string;
}

export interface PrepareContext<C> {
  posterior: Posterior;
  cfg: C;
  chain: number;
  /** The chain's tuning key: keyAt(seed, Stream.tune, chain). */
  key: Key;
  /** The chain's initial position w* + init_noise N(0, I); prepare may keep and mutate it. */
  init: Float64Array;
  /** The run's schedule (provisional for a sampler that pools its tuning). */
  schedule: Schedule;
}

export interface Prepared {
  kernel: Kernel<SamplerState, StepInfo>;
  /** State to start sampling from (e.g. after adaptation); else kernel.init(ctx.init, key). */
  state?: SamplerState;
  /** Tuned values recorded per chain in the manifest. */
  tuned: TunedValues;
  /** Work of the tuning in full-gradient equivalents. */
  fge: number;
  /** For a sampler with `share`: applies the run's shared values; returns the final tuned values. */
  adopt?(shared: SharedTuning): TunedValues;
}

/** A config key that sets a run's length, with its floor and (for a null default) its value. */
export interface LengthKey<C> {
  readonly key: string;
  readonly min: number;
  /** The length a null value stands for (e.g. MCLMC's tuning steps). */
  readonly basis?: (cfg: C) => number;
}

/** What a sampler declares so that a work budget can size its default run lengths. */
export interface LengthKeys<C> {
  readonly keys: readonly LengthKey<C>[];
  /** Planned work of one chain, tuning included, in full-gradient equivalents, on n rows. */
  plannedFge(cfg: C, n: number): number;
}

/** How a work budget sized a run's default lengths (recorded in the manifest). */
export interface BudgetedLengths {
  /** The budget per chain in GFLOP, and the planned work per chain it was compared with. */
  work_budget_gflop: number;
  planned_gflop: number;
  /** planned x factor = budget (factor < 1; a plan within budget is not resized). */
  factor: number;
  /** The keys resized: their default and the value used. */
  keys: { [key: string]: { default: number; used: number } };
}

/** Floating-point work of one full-data loss and gradient of a network with dim parameters on n rows. */
export function flopsPerFge(n: number, dim: number): number {
  return 6 * n * dim;
}

export interface SamplerDef<C> {
  readonly name: string;
  readonly summary: string;
  readonly schema: z.ZodType<C>;
  readonly traits: SamplerTraits;
  /** `shared` is given after pooling (see `share`); without it, a provisional schedule. */
  schedule(cfg: C, shared?: SharedTuning): Schedule;
  prepare(ctx: PrepareContext<C>): Prepared;
  /** Pools the chains' tuning into values every chain uses (see the module comment). */
  share?(tuned: readonly TunedValues[], cfg: C): SharedTuning;
  /** Recorded StepInfo fields (a list, or a function of the config). */
  readonly columns: readonly string[] | ((cfg: C) => readonly string[]);
  readonly lengths?: LengthKeys<C>;
}

/** A sampler with its config applied: what the runner drives. */
export interface ConfiguredSampler {
  readonly name: string;
  readonly traits: SamplerTraits;
  schedule(shared?: SharedTuning): Schedule;
  prepare(ctx: Omit<PrepareContext<unknown>, 'cfg'>): Prepared;
  /** Present when the sampler pools its tuning over the chains. */
  share?(tuned: readonly TunedValues[]): SharedTuning;
  readonly columns: readonly string[];
}

/** A sampler as the registry holds it: its config type is checked inside, at `configure`. */
export interface Sampler {
  readonly name: string;
  readonly summary: string;
  readonly traits: SamplerTraits;
  /** The config schema, for callers that locate each issue themselves (plan-time validation). */
  readonly schema: z.ZodType<unknown>;
  /** Validates overrides into a config (defaults filled); the error names the sampler and key. */
  parseConfig(overrides: unknown): JsonObject;
  /** Binds a config that `parseConfig` produced (e.g. a run's recorded hyperparameters). */
  configure(cfg: JsonObject): ConfiguredSampler;
  /**
   * The config with the length keys not in `explicit` scaled down so that one chain's planned
   * work fits `budgetGflop` on a target of n rows and dim parameters; null when the plan fits
   * (or the sampler declares no lengths). Deterministic: the numbers depend on the target only.
   */
  budgetLengths(cfg: JsonObject, explicit: ReadonlySet<string>, n: number, dim: number, budgetGflop: number): { cfg: JsonObject; report: BudgetedLengths } | null;
}

/**
 * Wraps a sampler definition for the registry, checking its declaration: a sampler pools its
 * tuning (`share`) exactly when its traits say which values its chains share.
 */
export function defineSampler<C>(def: SamplerDef<C>): Sampler {
  if ((def.share !== undefined) !== (def.traits.shares.length > 0)) {
    throw new Error(
      `sampler ${def.name}: traits.shares (${JSON.stringify(def.traits.shares)}) must be non-empty exactly when it has share()`,
    );
  }
  const parse = (value: unknown, what: string): C => {
    const parsed = def.schema.safeParse(value);
    if (!parsed.success) {
      const msg = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(config)'}: ${i.message}`).join('; ');
      throw new Error(`invalid ${what} for sampler "${def.name}": ${msg}`);
    }
    return parsed.data;
  };
  return {
    name: def.name,
    summary: def.summary,
    traits: def.traits,
    schema: def.schema,
    parseConfig(overrides) {
      return toConfigJson(parse(overrides, 'config'), def.name);
    },
    configure(json) {
      const cfg = parse(json, 'resolved config');
      const share = def.share;
      return {
        name: def.name,
        traits: def.traits,
        schedule: (shared) => def.schedule(cfg, shared),
        prepare: (ctx) => def.prepare({ ...ctx, cfg }),
        ...(share ? { share: (tuned: readonly TunedValues[]) => share(tuned, cfg) } : {}),
        columns: typeof def.columns === 'function' ? def.columns(cfg) : def.columns,
      };
    },
    budgetLengths(json, explicit, n, dim, budgetGflop) {
      const lengths = def.lengths;
      if (!lengths) return null;
      const cfg = parse(json, 'resolved config');
      const gflopPerFge = flopsPerFge(n, dim) / 1e9;
      const planned = lengths.plannedFge(cfg, n) * gflopPerFge;
      if (!(planned > budgetGflop)) return null;
      const current = cfg as unknown as Record<string, unknown>;
      const bases: Array<{ key: string; min: number; base: number }> = [];
      for (const k of lengths.keys) {
        if (explicit.has(k.key)) continue;
        const v = current[k.key];
        const base = typeof v === 'number' ? v : v === null && k.basis ? k.basis(cfg) : null;
        if (base !== null) bases.push({ key: k.key, min: k.min, base });
      }
      const scaled = (f: number): JsonObject => {
        const out: JsonObject = { ...json };
        for (const b of bases) out[b.key] = Math.min(b.base, Math.max(b.min, Math.round(b.base * f)));
        return out;
      };
      const gflopOf = (out: JsonObject): number => lengths.plannedFge(parse(out, 'config sized to the work budget'), n) * gflopPerFge;
      // The largest common factor whose lengths fit the budget: a key held at its floor leaves
      // the others the rest of the budget (plain proportion would overrun it by the floor's excess).
      let factor = budgetGflop / planned;
      if (gflopOf(scaled(factor)) > budgetGflop) {
        let lo = 0;
        let hi = factor;
        for (let i = 0; i < 40; i++) {
          const mid = (lo + hi) / 2;
          if (gflopOf(scaled(mid)) > budgetGflop) hi = mid;
          else lo = mid;
        }
        factor = lo;
      }
      const out = scaled(factor);
      // Reported: the share of the planned work the sized run does (floors included, so it can
      // exceed budget / planned when the floors alone overrun the budget).
      factor = gflopOf(out) / planned;
      const keys: BudgetedLengths['keys'] = {};
      for (const b of bases) if ((out[b.key] as number) < b.base) keys[b.key] = { default: b.base, used: out[b.key] as number };
      if (Object.keys(keys).length === 0) return null;
      // The resized config must still be one the sampler accepts.
      return { cfg: toConfigJson(parse(out, 'config sized to the work budget'), def.name), report: { work_budget_gflop: budgetGflop, planned_gflop: planned, factor, keys } };
    },
  };
}

/** A parsed config as JSON (sampler configs hold numbers, strings, booleans and nulls only). */
function toConfigJson(cfg: unknown, name: string): JsonObject {
  if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) throw new Error(`sampler ${name}: its config schema must give an object`);
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(cfg)) {
    if (v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out[k] = v;
    else if (v !== undefined) throw new Error(`sampler ${name}: config key ${k} is not a JSON scalar`);
  }
  return out;
}
