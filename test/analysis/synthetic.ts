/**
 * Synthetic run directories drawn from known distributions, so the analysis, plot and report
 * tests do not depend on the samplers: each chain's llc is an AR(1) process around a known
 * mean, optionally with a trend (drift) or a per-chain offset (chains that do not mix).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../../src/store/index.js';
import { writeTraces, type TraceColumns } from '../../src/store/traces.js';
import type { ChainFailure, RunManifest } from '../../src/contracts/index.js';

export interface SyntheticRunOptions {
  runId: string;
  targetId?: string;
  sampler?: string;
  chains?: number;
  draws?: number;
  mean?: number;
  sd?: number;
  /** Lag-1 autocorrelation of each chain. */
  rho?: number;
  /** Added linearly over the draws: the chain ends `trend` above where it started. */
  trend?: number;
  /** Chain j is shifted by j * offset: chains that never meet. */
  offset?: number;
  seed?: number;
  burnIn?: number;
  /** HMC-style columns: acceptance, energy, diverging. */
  hmc?: { acceptance: number; divergences: number };
  /** SGNHT's gradient_noise column: this value on every other row, NaN (no probe) between. */
  gradientNoise?: number;
  /** SGLD's step_size column: from `first` to `last` in one fall at mid-run (chain 0 only; the others stay at `first`). */
  stepSize?: { first: number; last: number };
  /** Chain indices whose llc is NaN from the middle on (blown up). */
  blowUp?: number[];
  n?: number;
  beta?: number;
  L0?: number;
  /** Chains the run was asked for (default: chains). */
  chainsRequested?: number;
  /** Chains the manifest reports as failed. */
  failures?: ChainFailure[];
}

/** mulberry32 plus Box-Muller; state is local to each generator, nothing global. */
export function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    const u = Math.max(uniform(), 1e-300);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}

export function writeSyntheticRun(home: string, o: SyntheticRunOptions): string {
  const chains = o.chains ?? 4;
  const draws = o.draws ?? 400;
  const mean = o.mean ?? 5;
  const sd = o.sd ?? 1;
  const rho = o.rho ?? 0.3;
  const n = o.n ?? 100;
  const beta = o.beta ?? 1 / Math.log(n);
  const L0 = o.L0 ?? 0.01;
  const rows = chains * draws;
  const cols: TraceColumns = {
    chain: new Int32Array(rows),
    draw: new Int32Array(rows),
    step: new Int32Array(rows),
    Ln: new Float64Array(rows),
    llc: new Float64Array(rows),
    cumulative_fge: new Float64Array(rows),
    time_s: new Float64Array(rows),
  };
  if (o.hmc) {
    cols.acceptance = new Float64Array(rows);
    cols.energy = new Float64Array(rows);
    cols.diverging = new Int32Array(rows);
  }
  if (o.gradientNoise !== undefined) cols.gradient_noise = new Float64Array(rows);
  if (o.stepSize !== undefined) cols.step_size = new Float64Array(rows);
  const z = gaussian(o.seed ?? 1);
  let row = 0;
  for (let c = 0; c < chains; c++) {
    let x = z() * sd;
    let energy = 50 + z() * 3;
    for (let d = 0; d < draws; d++) {
      x = rho * x + Math.sqrt(1 - rho * rho) * sd * z();
      let llc = mean + x + (o.trend ?? 0) * (d / draws) + (o.offset ?? 0) * c;
      if (o.blowUp?.includes(c) && d >= draws / 2) llc = Number.NaN;
      cols.chain![row] = c;
      cols.draw![row] = d;
      cols.step![row] = d * 10;
      cols.llc![row] = llc;
      cols.Ln![row] = L0 + llc / (n * beta);
      cols.cumulative_fge![row] = (d + 1) * 10;
      cols.time_s![row] = (d + 1) * 0.002 * (1 + 0.1 * c);
      if (o.gradientNoise !== undefined) cols.gradient_noise![row] = d % 2 === 0 ? o.gradientNoise : Number.NaN;
      if (o.stepSize !== undefined) cols.step_size![row] = c === 0 && d >= draws / 2 ? o.stepSize.last : o.stepSize.first;
      if (o.hmc) {
        energy = 0.5 * energy + 0.5 * (50 + z() * 3);
        cols.acceptance![row] = Math.min(1, Math.max(0, o.hmc.acceptance + 0.05 * z()));
        cols.energy![row] = energy;
        cols.diverging![row] = c === 0 && d < o.hmc.divergences ? 1 : 0;
      }
      row++;
    }
  }
  const dir = join(home, 'runs', o.runId);
  mkdirSync(dir, { recursive: true });
  writeTraces(join(dir, 'traces.feather'), cols);
  const requested = o.chainsRequested ?? chains;
  const wall = draws * 0.002 * (1 + 0.1 * (chains - 1));
  const sampler = o.sampler ?? 'sgld';
  const failures = o.failures ?? [];
  // Traces that still hold the burn-in: the analysis discards its first burnIn draws.
  const manifest: RunManifest = {
    run_id: o.runId,
    target_id: o.targetId ?? 'tgt_synthetic0',
    sampler,
    requested_sampler: sampler,
    seed: o.seed ?? 1,
    hyperparameters: { step_size: 1e-4 },
    posterior_settings: { beta0: beta * Math.log(n), beta_mode: '1_over_log_n', gamma: 1, prior_radius: null },
    n,
    dim: 10,
    beta,
    gamma: 1,
    n_beta: n * beta,
    L0,
    chains: requested,
    chain_settings: { count: requested, init_noise: 0.01, burn_in: o.burnIn ?? null },
    schedule: { steps: draws * 10, burn_in: o.burnIn ?? 0, eval_every: 10 },
    burn_in: o.burnIn ?? 0,
    traces_include_burn_in: true,
    draws_per_chain: Array.from({ length: chains }, () => draws),
    trace_columns: Object.keys(cols),
    per_chain: Array.from({ length: chains }, (_, c) => ({
      chain: c, tuned: { step_size: 1e-4 }, tune_fge: 0, sample_fge: draws * 10, eval_fge: draws, tune_time_s: 0,
      sample_time_s: wall, steps_done: draws * 10, failure: failures.find((f) => f.chain === c) ?? null,
    })),
    work: { unit: 'full-gradient evaluations', total_fge: chains * draws * 10, tune_fge: 0, sample_fge: chains * draws * 10, eval_fge: chains * draws },
    total_fge: chains * draws * 10,
    timings: { wall_s: wall, tune_s: 0, sample_s: wall, threads: 1 },
    failures,
    created_at: '2025-01-01T00:00:00.000Z',
    code_version: 'synthetic',
  };
  writeJsonAtomic(join(dir, 'manifest.json'), manifest);
  return dir;
}
