/**
 * MCMC convergence diagnostics with ArviZ 0.23's numbers and JSON-safe results.
 *
 * One function per statistic, each taking draws as `chains[chain][draw]` and returning
 * `{ value, reason? }`. Where ArviZ would return NaN (or a statistic is infinite) the value is
 * `null` and `reason` says why, so nothing downstream ever has to serialise NaN or Infinity.
 *
 * When a statistic is null:
 * - no chains, or any NaN / ±Infinity draw: every statistic.
 * - R-hat with fewer than 2 chains (ArviZ: `min_chains=2`).
 * - R-hat, ESS and MCSE with fewer than 4 draws per chain (ArviZ's `min_draws=4`, the minimum
 *   for two split halves of two draws). ArviZ's threshold is kept so the numbers match it; such
 *   short chains give numbers that mean little, and callers that want a stricter rule (the
 *   Python lambda-hat used 20 draws for R-hat) should apply it on top.
 * - R-hat, ESS and MCSE when every draw is identical. ArviZ reports R-hat NaN, ESS = number of
 *   draws and MCSE 0 there; a constant trace is a broken sampler or a frozen statistic, and an
 *   ESS equal to the draw count would read as perfect mixing, so we report null instead.
 * - R-hat when every split half-chain is constant but they differ (stuck chains): the
 *   within-chain variance is zero and R-hat is infinite.
 * - mean with no draws, sd with fewer than 2 draws in total.
 * Chains of unequal length are a caller error and throw a RangeError.
 */
import {
  essBulkRaw,
  essTailRaw,
  mcseMeanRaw,
  pooledMean,
  pooledSd,
  rhatRank,
  type ChainMatrix,
} from './core.js';

export { normalPpf } from './normal.js';
export { essOneChain } from './single-chain.js';

/** A statistic's value, or null with a human-readable reason. Never NaN or Infinity. */
export interface Statistic {
  value: number | null;
  reason?: string;
}

/** Draws indexed [chain][draw]. */
export type Chains = readonly ArrayLike<number>[];

/** Fewest draws per chain for R-hat, ESS and MCSE (ArviZ's `min_draws`). */
export const MIN_DRAWS = 4;
/** Fewest chains for R-hat (ArviZ's `min_chains`). */
export const MIN_CHAINS_RHAT = 2;

export const SUMMARY_KEYS = ['rhat', 'ess_bulk', 'ess_tail', 'mcse_mean', 'mean', 'sd'] as const;
export type SummaryKey = (typeof SUMMARY_KEYS)[number];

export type Summary = { [K in SummaryKey]: number | null } & {
  /** One entry per null statistic. */
  reasons: Partial<Record<SummaryKey, string>>;
};

interface Checked {
  matrix: ChainMatrix;
  /** Why nothing can be computed on this input (no chains, non-finite draws), if so. */
  invalid?: string;
  constant: boolean;
}

/** Copies to Float64Array, checks shape and finiteness once. Throws on ragged input. */
function check(chains: Chains): Checked {
  if (chains.length === 0) return { matrix: [], invalid: 'no chains given', constant: false };
  const n = chains[0]!.length;
  chains.forEach((c, j) => {
    if (c.length !== n) {
      throw new RangeError(
        `chains must have equal lengths: chain 0 has ${n} draws, chain ${j} has ${c.length}`,
      );
    }
  });
  const matrix = chains.map((c) => Float64Array.from(c));
  let first: number | undefined;
  let constant = true;
  for (let j = 0; j < matrix.length; j++) {
    const c = matrix[j]!;
    for (let i = 0; i < c.length; i++) {
      const v = c[i]!;
      if (!Number.isFinite(v)) {
        const what = Number.isNaN(v) ? 'NaN' : String(v);
        return { matrix, invalid: `draws contain ${what} (chain ${j}, draw ${i})`, constant: false };
      }
      if (first === undefined) first = v;
      else if (v !== first) constant = false;
    }
  }
  return { matrix, constant };
}

function ok(value: number): Statistic {
  return { value };
}

function fail(reason: string): Statistic {
  return { value: null, reason };
}

/** Common gate of R-hat, ESS and MCSE; returns the reason to refuse, if any. */
function gate(c: Checked, what: string, minChains: number): string | undefined {
  if (c.invalid !== undefined) return c.invalid;
  const m = c.matrix.length;
  const n = c.matrix[0]!.length;
  if (m < minChains) return `${what} needs at least ${minChains} chains, got ${m}`;
  if (n < MIN_DRAWS) return `${what} needs at least ${MIN_DRAWS} draws per chain, got ${n}`;
  if (c.constant) return `all draws are identical, so ${what} is undefined`;
  return undefined;
}

function rhatChecked(c: Checked): Statistic {
  const refused = gate(c, 'R-hat', MIN_CHAINS_RHAT);
  if (refused !== undefined) return fail(refused);
  const v = rhatRank(c.matrix);
  if (Number.isNaN(v)) {
    return fail('R-hat is undefined: the rank-normalised within-chain variance is zero');
  }
  if (!Number.isFinite(v)) {
    return fail(
      'R-hat is infinite: every split half-chain is constant (zero within-chain variance) ' +
        'but they differ, so the chains are stuck and have not mixed',
    );
  }
  return ok(v);
}

function finiteOr(v: number, reason: string): Statistic {
  return Number.isFinite(v) ? ok(v) : fail(reason);
}

function essBulkChecked(c: Checked): Statistic {
  const refused = gate(c, 'bulk ESS', 1);
  if (refused !== undefined) return fail(refused);
  return finiteOr(essBulkRaw(c.matrix), 'bulk ESS is undefined: autocorrelations are not finite');
}

function essTailChecked(c: Checked): Statistic {
  const refused = gate(c, 'tail ESS', 1);
  if (refused !== undefined) return fail(refused);
  return finiteOr(essTailRaw(c.matrix), 'tail ESS is undefined: autocorrelations are not finite');
}

function mcseMeanChecked(c: Checked): Statistic {
  const refused = gate(c, 'MCSE of the mean', 1);
  if (refused !== undefined) return fail(refused);
  return finiteOr(
    mcseMeanRaw(c.matrix),
    'MCSE of the mean is undefined: the ESS for the mean is not finite',
  );
}

function meanChecked(c: Checked): Statistic {
  if (c.invalid !== undefined) return fail(c.invalid);
  if (c.matrix[0]!.length === 0) return fail('mean needs at least 1 draw, got 0');
  return ok(pooledMean(c.matrix));
}

function sdChecked(c: Checked): Statistic {
  if (c.invalid !== undefined) return fail(c.invalid);
  const total = c.matrix.length * c.matrix[0]!.length;
  if (total < 2) return fail(`sd needs at least 2 draws in total, got ${total}`);
  return ok(pooledSd(c.matrix));
}

/** Rank-normalised split R-hat, max of bulk and folded (ArviZ `rhat(method='rank')`). */
export function rhat(chains: Chains): Statistic {
  return rhatChecked(check(chains));
}

/** Bulk effective sample size (ArviZ `ess(method='bulk')`). */
export function essBulk(chains: Chains): Statistic {
  return essBulkChecked(check(chains));
}

/** Tail effective sample size, min over the 5% and 95% quantiles (ArviZ `ess(method='tail')`). */
export function essTail(chains: Chains): Statistic {
  return essTailChecked(check(chains));
}

/** Monte Carlo standard error of the mean (ArviZ `mcse(method='mean')`). */
export function mcseMean(chains: Chains): Statistic {
  return mcseMeanChecked(check(chains));
}

/** Mean of all draws. */
export function mean(chains: Chains): Statistic {
  return meanChecked(check(chains));
}

/** Standard deviation of all draws pooled (ddof = 1, as ArviZ's summary). */
export function sd(chains: Chains): Statistic {
  return sdChecked(check(chains));
}

/** All six statistics at once (input validated once); `reasons` explains every null. */
export function summarize(chains: Chains): Summary {
  const c = check(chains);
  const stats: Record<SummaryKey, Statistic> = {
    rhat: rhatChecked(c),
    ess_bulk: essBulkChecked(c),
    ess_tail: essTailChecked(c),
    mcse_mean: mcseMeanChecked(c),
    mean: meanChecked(c),
    sd: sdChecked(c),
  };
  const reasons: Partial<Record<SummaryKey, string>> = {};
  for (const key of SUMMARY_KEYS) {
    const reason = stats[key].reason;
    if (reason !== undefined) reasons[key] = reason;
  }
  return {
    rhat: stats.rhat.value,
    ess_bulk: stats.ess_bulk.value,
    ess_tail: stats.ess_tail.value,
    mcse_mean: stats.mcse_mean.value,
    mean: stats.mean.value,
    sd: stats.sd.value,
    reasons,
  };
}

/** `T` with every number possibly replaced by null, as `toJsonSafe` returns it. */
export type JsonSafe<T> = T extends number
  ? number | null
  : T extends bigint
    ? string
    : T extends string | boolean | null | undefined
      ? T
      : T extends ArrayLike<infer E>
        ? JsonSafe<E>[]
        : T extends object
          ? { [K in keyof T]: JsonSafe<T[K]> }
          : T;

/**
 * A copy of `value` that `JSON.stringify` turns into valid JSON: NaN and ±Infinity become null
 * (JSON.stringify would do that silently for plain numbers, but Python's json writes NaN
 * literals that strict parsers reject, and typed arrays would serialise as index-keyed objects),
 * typed arrays become arrays and bigints decimal strings. Objects with a `toJSON` method are
 * serialised through it first.
 */
export function toJsonSafe<T>(value: T): JsonSafe<T> {
  return convert(value) as JsonSafe<T>;
}

function convert(value: unknown): unknown {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  const withToJson = value as { toJSON?: () => unknown };
  if (typeof withToJson.toJSON === 'function') return convert(withToJson.toJSON());
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    return Array.from(value as ArrayLike<unknown>, convert);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = convert(v);
  return out;
}
