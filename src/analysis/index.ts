/**
 * Analysis of one run: the numbers of analysis.json and the warnings that say when the estimate
 * should not be trusted. Pure functions of a loaded run; the diagnose task does the file I/O.
 *
 * The statistics come from src/diagnostics (ArviZ's R-hat/ESS/MCSE, null with a reason where
 * ArviZ would give NaN), so analysis.json never holds NaN or Infinity. What is particular to a
 * sampler (its acceptance threshold, a caveat on its kind of estimate) comes from the traits it
 * declares in the sampler registry, never from its name.
 */
import { mcseMean, summarize, type Summary } from '../diagnostics/index.js';
import { discardDraws, failedChains, type ChainTrace, type LoadedRun } from './run.js';
import type { Analysis } from '../contracts/index.js';
import { samplerTraits } from '../samplers/registry.js';

/** Bump when the analysis or the plots change, so stored analyses are redone. */
export const ANALYSIS_VERSION = 1;

/**
 * Thresholds of the trust warnings that hold for every sampler; explicit so tests and the report
 * can name them. A sampler's own thresholds are in its traits.
 */
export const THRESHOLDS = {
  /** Vehtari et al. (2021) recommend R-hat below 1.01. */
  rhat: 1.01,
  /** ... and at least 100 effective draws per chain for bulk and tail ESS. */
  essPerChain: 100,
  /** Drift: first vs second half of kept draws further apart than this many MCSE. */
  driftMcse: 2,
  /** Energy Bayesian fraction of missing information below 0.3: HMC explores energy poorly. */
  bfmi: 0.3,
} as const;

export type { Analysis };

/** The kept part of the valid chains: what every statistic is computed on. */
export interface KeptDraws {
  /** Chains used, truncated to a common length. */
  chains: ChainTrace[];
  /** llc of each used chain, burn-in removed. */
  llc: Float64Array[];
  burnIn: number;
  /** Index of the first kept draw in each chain's arrays (= burnIn). */
  start: number;
  /** Common length of the used chains, before burn-in. */
  length: number;
  failed: { chain: number; error: string }[];
  notes: string[];
}

/** Mean of an optional per-draw column over the kept draws (NaN rows skipped); null when absent. */
function meanOfKept(kept: KeptDraws, name: 'gradient_noise'): number | null {
  let sum = 0;
  let count = 0;
  for (const c of kept.chains) {
    const col = c[name];
    if (col === null) continue;
    for (let i = kept.start; i < kept.length; i++) {
      const v = col[i]!;
      if (Number.isFinite(v)) {
        sum += v;
        count++;
      }
    }
  }
  return count > 0 ? sum / count : null;
}

/**
 * A fall of the step over the kept draws this large means the run's first draws were taken at a
 * step the guard later found beyond the stability cap where the chain had gone (sgld.ts,
 * calibrate.ts STEP GUARD); below it the guard only trimmed the step.
 */
const STEP_FALL_WARN = 2;

/** The largest first / last ratio of the recorded step over the kept draws of a chain. */
function stepFall(kept: KeptDraws): { ratio: number; chain: number; first: number; last: number } | null {
  let worst: { ratio: number; chain: number; first: number; last: number } | null = null;
  for (const c of kept.chains) {
    const col = c.step_size;
    if (col === null || kept.length <= kept.start) continue;
    const first = col[kept.start]!;
    const last = col[kept.length - 1]!;
    if (!(first > 0) || !(last > 0)) continue;
    const ratio = first / last;
    if (worst === null || ratio > worst.ratio) worst = { ratio, chain: c.chain, first, last };
  }
  return worst;
}

function allFinite(xs: Float64Array): boolean {
  for (let i = 0; i < xs.length; i++) if (!Number.isFinite(xs[i]!)) return false;
  return true;
}

/**
 * Chooses the chains and draws to estimate from: chains whose llc or Ln has a non-finite value
 * (a blown-up chain) or that the manifest lists as failed are left out and reported; the rest
 * are cut to their common length (ArviZ needs a rectangular [chain][draw] array) and burn-in.
 */
export function keptDraws(run: LoadedRun): KeptDraws {
  const failed = failedChains(run.manifest);
  const failedIds = new Set(failed.map((f) => f.chain));
  const notes: string[] = [];
  const ok: ChainTrace[] = [];
  for (const c of run.chains) {
    if (failedIds.has(c.chain)) continue;
    if (!allFinite(c.llc)) {
      failed.push({ chain: c.chain, error: 'llc trace has NaN or infinite values (chain blew up)' });
    } else if (c.llc.length === 0) {
      failed.push({ chain: c.chain, error: 'no recorded draws' });
    } else {
      ok.push(c);
    }
  }
  const requested = run.manifest.chains;
  if (run.chains.length < requested) {
    const present = new Set(run.chains.map((c) => c.chain));
    for (let j = 0; j < requested; j++) {
      if (!present.has(j) && !failedIds.has(j)) failed.push({ chain: j, error: 'missing from traces' });
    }
  }
  const length = ok.length === 0 ? 0 : Math.min(...ok.map((c) => c.llc.length));
  const longest = ok.length === 0 ? 0 : Math.max(...ok.map((c) => c.llc.length));
  if (longest !== length) {
    notes.push(`chains have unequal lengths (${length} to ${longest} draws); all were cut to ${length}`);
  }
  const burnIn = discardDraws(run.manifest);
  if (burnIn >= length && length > 0) {
    notes.push(`burn-in of ${burnIn} draws discards all ${length} recorded draws: no estimate`);
  }
  const start = Math.min(burnIn, length);
  return {
    chains: ok,
    llc: ok.map((c) => c.llc.slice(start, length)),
    burnIn,
    start,
    length,
    failed,
    notes,
  };
}

function meanOf(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s / xs.length;
}

function fmt(x: number, digits = 4): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e5 || a < 1e-3 ? x.toExponential(2) : String(Number(x.toPrecision(digits)));
}

/** E-BFMI of one chain's energies (Betancourt 2016), as ArviZ's `bfmi`. */
export function bfmi(energy: ArrayLike<number>): number | null {
  const n = energy.length;
  if (n < 2) return null;
  const mu = meanOf(energy);
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const d = energy[i]! - mu;
    den += d * d;
    if (i > 0) {
      const s = energy[i]! - energy[i - 1]!;
      num += s * s;
    }
  }
  const v = num / den;
  return Number.isFinite(v) ? v : null;
}

export interface AnalyzeOptions {
  inputsHash: string;
  plots?: string[];
}

/** Drift check: halves of the kept draws of every chain, compared in units of their MCSE. */
function driftOf(llc: Float64Array[]): Analysis['drift'] {
  const n = llc.length === 0 ? 0 : llc[0]!.length;
  const half = Math.floor(n / 2);
  if (half === 0) return { first_half: null, second_half: null, se_diff: null };
  const first = llc.map((c) => c.subarray(0, half));
  const second = llc.map((c) => c.subarray(n - half));
  const m1 = meanOf(first.map(meanOf));
  const m2 = meanOf(second.map(meanOf));
  const s1 = mcseMean(first).value;
  const s2 = mcseMean(second).value;
  const se = s1 === null || s2 === null ? null : Math.hypot(s1, s2);
  return { first_half: m1, second_half: m2, se_diff: se };
}

export function analyzeRun(run: LoadedRun, opts: AnalyzeOptions): Analysis {
  const m = run.manifest;
  const kept = keptDraws(run);
  const nChains = kept.llc.length;
  const draws = nChains === 0 ? 0 : kept.llc[0]!.length;
  const summary: Summary =
    nChains === 0
      ? { rhat: null, ess_bulk: null, ess_tail: null, mcse_mean: null, mean: null, sd: null, reasons: {
          rhat: 'no usable chain', ess_bulk: 'no usable chain', ess_tail: 'no usable chain',
          mcse_mean: 'no usable chain', mean: 'no usable chain', sd: 'no usable chain' } }
      : summarize(kept.llc);

  const total_fge = m.total_fge;
  const walltime_s = m.timings.wall_s;

  const warnings: string[] = [...kept.notes];
  for (const f of kept.failed) warnings.push(`chain ${f.chain} failed: ${f.error}`);
  if (m.budget?.stopped) {
    const who = m.budget.source === 'workflow' ? "the workflow's time budget" : `its time budget of ${m.budget.time_budget_s} s`;
    const done = m.per_chain.filter((c) => c.stopped_by_budget).map((c) => `chain ${c.chain} ${c.steps_done}`).join(', ');
    warnings.push(
      `stopped at ${who}: ${done || 'no chain recorded a draw'} of ${m.schedule.steps} steps; ` +
        'the estimate has fewer draws than its schedule asked for (raise time_budget)',
    );
  }
  if (nChains > 0 && nChains < m.chains) {
    warnings.push(`only ${nChains} of ${m.chains} chains are usable`);
  }
  const labels: Record<string, string> = {
    rhat: 'R-hat', ess_bulk: 'bulk ESS', ess_tail: 'tail ESS', mcse_mean: 'MCSE', mean: 'λ̂', sd: 'sd',
  };
  for (const [k, reason] of Object.entries(summary.reasons)) {
    warnings.push(`${labels[k] ?? k} not computed: ${reason}`);
  }
  if (summary.rhat !== null && summary.rhat > THRESHOLDS.rhat) {
    warnings.push(`R-hat ${fmt(summary.rhat)} > ${THRESHOLDS.rhat}: chains disagree (not mixed)`);
  }
  const essMin = THRESHOLDS.essPerChain * Math.max(1, nChains);
  if (summary.ess_bulk !== null && summary.ess_bulk < essMin) {
    warnings.push(`bulk ESS ${fmt(summary.ess_bulk, 3)} < ${essMin} (${THRESHOLDS.essPerChain} per chain)`);
  }
  if (summary.ess_tail !== null && summary.ess_tail < essMin) {
    warnings.push(`tail ESS ${fmt(summary.ess_tail, 3)} < ${essMin} (${THRESHOLDS.essPerChain} per chain)`);
  }
  const drift = nChains === 0 ? { first_half: null, second_half: null, se_diff: null } : driftOf(kept.llc);
  if (drift.first_half !== null && drift.second_half !== null && drift.se_diff !== null) {
    const diff = Math.abs(drift.second_half - drift.first_half);
    if (diff > THRESHOLDS.driftMcse * drift.se_diff) {
      warnings.push(
        `running λ̂ still drifting: first half of kept draws ${fmt(drift.first_half)}, second half ` +
          `${fmt(drift.second_half)} (|Δ| = ${fmt(diff)} > ${THRESHOLDS.driftMcse} MCSE = ` +
          `${fmt(THRESHOLDS.driftMcse * drift.se_diff)}); sample longer or raise burn_in`,
      );
    }
  }
  if (summary.mean !== null && summary.mean < 0) {
    warnings.push(
      `negative λ̂ (${fmt(summary.mean)}): the chains found loss below L0, so w* is not a local minimum ` +
        'of the sampled loss (train the target longer) or the step size is too large',
    );
  }

  let divergences = 0;
  let anyDivCol = false;
  let accSum = 0;
  let accN = 0;
  const bfmis: number[] = [];
  for (const c of kept.chains) {
    if (c.diverging !== null) {
      anyDivCol = true;
      for (let i = kept.start; i < kept.length; i++) if (c.diverging[i]! > 0) divergences++;
    }
    if (c.acceptance !== null) {
      for (let i = kept.start; i < kept.length; i++) {
        const a = c.acceptance[i]!;
        if (Number.isFinite(a)) {
          accSum += a;
          accN++;
        }
      }
    }
    if (c.energy !== null) {
      const e = c.energy.subarray(kept.start, kept.length);
      if (allFinite(e)) {
        const b = bfmi(e);
        if (b !== null) bfmis.push(b);
      }
    }
  }
  if (anyDivCol && divergences > 0) {
    const total = nChains * draws;
    warnings.push(
      `${divergences} divergent transition${divergences === 1 ? '' : 's'} (${fmt((100 * divergences) / Math.max(1, total), 3)}% of kept draws): ` +
        'the sampler cannot follow the posterior; lower the step size',
    );
  }
  const acceptance_mean = accN > 0 ? accSum / accN : null;
  const traits = samplerTraits(m.sampler);
  const minAcc = traits?.thresholds.minAcceptance;
  if (acceptance_mean !== null && minAcc !== undefined && acceptance_mean < minAcc) {
    warnings.push(`low acceptance ${fmt(acceptance_mean, 3)} < ${minAcc} for ${m.sampler}: step size too large`);
  }
  if (traits?.caveat !== undefined) warnings.push(traits.caveat);
  const maxNoise = traits?.thresholds.maxGradientNoise;
  const gradient_noise = meanOfKept(kept, 'gradient_noise');
  if (gradient_noise !== null && maxNoise !== undefined && gradient_noise > maxNoise) {
    warnings.push(
      `minibatch gradient noise ${fmt(gradient_noise, 3)} of the injected noise (> ${maxNoise}): ${m.sampler}'s thermostat ` +
        'cannot remove it per direction, so λ̂ runs high; raise batch_size, lower step_size, or with step_size: auto lower max_gradient_noise (its batch rule)',
    );
  }
  const fall = stepFall(kept);
  if (fall !== null && fall.ratio >= STEP_FALL_WARN) {
    warnings.push(
      `step lowered ${fmt(fall.ratio, 2)}x while recording (chain ${fall.chain}: ${fall.first.toExponential(2)} -> ${fall.last.toExponential(2)}): ` +
        'the chains moved on into stiffer regions and the step guard cut the step, so the earlier draws carry more step bias than target_bias; ' +
        'lower target_bias or record longer (kept_relaxations, max_steps)',
    );
  }
  const lowBfmi = bfmis.filter((b) => b < THRESHOLDS.bfmi);
  if (lowBfmi.length > 0) {
    warnings.push(`E-BFMI below ${THRESHOLDS.bfmi} in ${lowBfmi.length} chain(s): poor energy exploration`);
  }

  const wnv =
    summary.sd !== null && summary.ess_bulk !== null && summary.ess_bulk > 0 && total_fge !== null
      ? ((summary.sd * summary.sd) / summary.ess_bulk) * total_fge
      : null;

  return {
    target_id: m.target_id,
    sampler: m.sampler,
    llc_mean: summary.mean,
    llc_std: summary.sd,
    llc_mcse: summary.mcse_mean,
    r_hat: summary.rhat,
    ess_bulk: summary.ess_bulk,
    ess_tail: summary.ess_tail,
    chains: nChains,
    draws,
    burn_in: m.burn_in,
    n: m.n,
    beta: m.beta,
    gamma: m.gamma,
    L0: m.L0,
    total_fge,
    walltime_s,
    warnings,
    run_id: m.run_id,
    reasons: { ...summary.reasons },
    chains_requested: m.chains,
    chain_ids: kept.chains.map((c) => c.chain),
    failed_chains: kept.failed,
    wnv: wnv !== null && Number.isFinite(wnv) ? wnv : null,
    drift,
    acceptance_mean,
    divergences,
    bfmi: bfmis.length > 0 ? bfmis : null,
    analysis_version: ANALYSIS_VERSION,
    inputs_hash: opts.inputsHash,
    plots: opts.plots ?? [],
  };
}
