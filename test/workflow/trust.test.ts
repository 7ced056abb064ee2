/**
 * The trust column of the workflow's results: built from each run's analysis.json warnings, the
 * target's meta.json (w* not a minimum) and cross-sampler disagreement, written to results.csv
 * and results.feather and printed; a row with any warning is never shown as plain `ok`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, describe, expect, it } from 'vitest';
import { writeJsonAtomic } from '../../src/store/index.js';
import { parseCsv } from '../../src/report/collect.js';
import type { NodeOutcome } from '../../src/workflow/graph.js';
import type { PlannedPair } from '../../src/workflow/plan.js';
import { agreementSummary, disagreementLines, resultRows, resultsCsv, resultsFeather, summaryTable } from '../../src/workflow/results.js';
import { targetWarnings, trustOf, trustReason } from '../../src/workflow/trust.js';
import { GRAD_NORM_WARN } from '../../src/targets/build.js';
import type { Analysis, Diagnosis, TargetMeta } from '../../src/contracts/index.js';

const home = mkdtempSync(join(tmpdir(), 'lh-trust-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** A meta.json that meets its contract, with the given config, training and warnings. */
function target(id: string, meta: Pick<TargetMeta, 'config' | 'training' | 'warnings'>): string {
  const dir = join(home, 'targets', id);
  const full: TargetMeta = {
    target_id: id, family: meta.config.model.family, dims: { n: 1000, in_dim: 0, out_dim: 0, p: 1 }, L0: 0, dtype: 'float64',
    created_at: '2025-01-01T00:00:00.000Z', code_version: 'test', host: 'test', engine_impl: null, files: {}, ...meta,
  };
  writeJsonAtomic(join(dir, 'meta.json'), full);
  return dir;
}

interface RunSpec {
  target: string;
  targetDir: string;
  sampler: string;
  mean: number;
  mcse: number;
  warnings?: string[];
}

/** A pair whose build, sample and diagnose succeeded, with the run's analysis.json on disk. */
function pairOf(i: number, r: RunSpec, outcomes: Map<string, NodeOutcome>): PlannedPair {
  const runDir = join(home, 'runs', `run_${i}`);
  const analysis: Analysis = {
    target_id: r.target, sampler: r.sampler, llc_mean: r.mean, llc_std: 1, llc_mcse: r.mcse, r_hat: 1.001, ess_bulk: 2000, ess_tail: 2000,
    chains: 4, draws: 1000, burn_in: 0, n: 1000, beta: 1 / Math.log(1000), gamma: 1, L0: 0, total_fge: 100, walltime_s: 1.5,
    warnings: r.warnings ?? [], run_id: `run_${i}`, reasons: {}, chains_requested: 4, chain_ids: [0, 1, 2, 3], failed_chains: [],
    wnv: null, drift: { first_half: null, second_half: null, se_diff: null }, acceptance_mean: null, divergences: 0, bfmi: null,
    analysis_version: 1, inputs_hash: 'test', plots: [],
  };
  writeJsonAtomic(join(runDir, 'analysis.json'), analysis);
  const done = (id: string, stage: NodeOutcome['stage'], result: unknown): void => {
    outcomes.set(id, { id, stage, label: id, status: 'done', result, attempts: 1, walltime_s: 1 });
  };
  const p = { target_index: 0, target_id: r.target, sampler: r.sampler, sampler_index: i, build: `build-${r.target}`, sample: `sample-${i}`, diagnose: `diag-${i}` };
  done(p.build, 'build', { target_id: r.target, dir: r.targetDir, reused: false });
  done(p.sample, 'sample', { run_id: `run_${i}`, dir: runDir, reused: false, failures: [] });
  const diagnosed: Diagnosis = {
    run_dir: runDir, llc_mean: r.mean, llc_mcse: r.mcse, r_hat: 1.001, ess_bulk: 2000, warnings: r.warnings ?? [],
    reused: false, analysis_path: join(runDir, 'analysis.json'), plots: [],
  };
  done(p.diagnose, 'diagnose', diagnosed);
  return p;
}

const dlnMeta: Pick<TargetMeta, 'config' | 'training' | 'warnings'> = {
  config: {
    model: { family: 'dln', in_dim: 5, widths: [3], out_dim: 5 }, teacher: { family: 'dln', rank: 1, widths: [3], dropout_rate: 0 },
    data: { n: 1000 }, training: { init: 'teacher', loss: { kind: 'mse' } }, seed: 0, dtype: 'float64',
  },
  training: { init: 'teacher', steps_run: 0, early_stopped: false, final_loss: 0, final_grad_norm: 0, wall_s: 0 },
  warnings: [],
};
const mlpMeta: Pick<TargetMeta, 'config' | 'training' | 'warnings'> = {
  config: {
    model: { family: 'mlp', in_dim: 4, widths: [4, 4], out_dim: 1, activation: 'relu', bias: true, layernorm: false }, teacher: null,
    data: { n: 1000 }, training: null, seed: 0, dtype: 'float64',
  },
  training: { init: 'random', steps_run: 100, early_stopped: false, final_loss: 0.1, final_grad_norm: 0.02, wall_s: 1 },
  // Written by an older build: no warning for the gradient norm, which the trust column still reads.
  warnings: [],
};

describe('trust column', () => {
  it('shortens every warning the analysis writes, most serious first', () => {
    const t = trustOf([
      'bulk ESS 32.4 < 400 (100 per chain)',
      'R-hat 1.44 > 1.01: chains disagree (not mixed)',
      '41 divergent transitions (2.56% of kept draws): the sampler cannot follow the posterior; lower the step size',
    ]);
    expect(t.label).toBe('warn (3): R-hat 1.44');
    expect(t.reasons.map((r) => r.short)).toEqual(['R-hat 1.44', '41 divergences', 'ESS 32.4']);
    expect(trustOf([]).label).toBe('ok');
    expect(trustReason('variational estimate: a Gaussian family cannot follow').short).toBe('variational');
    expect(trustReason('negative λ̂ (-9.257): the chains found loss below L0').short).toBe('negative λ̂');
    expect(trustReason('chain 2 failed: llc trace has NaN').short).toBe('chain 2 failed');
    expect(trustReason('something new: with details').short).toBe('something new');
  });

  it('reads w* not a minimum from the training gradient norm, also when meta.json has no warning for it', () => {
    expect(targetWarnings({ training: { init: 'random', final_grad_norm: 10 * GRAD_NORM_WARN }, warnings: [] })).toEqual([
      `w* not a minimum: the final gradient norm of training is ${(10 * GRAD_NORM_WARN).toExponential(2)} > ${GRAD_NORM_WARN}`,
    ]);
    const written = 'training ended with gradient norm 1.00e-2 > 0.001 after 100 steps: w* is not a critical point of L_n';
    expect(targetWarnings({ training: { init: 'random', final_grad_norm: 0.01 }, warnings: [written] })).toEqual([written]);
    expect(trustOf([written]).label).toBe('warn (1): w* not a minimum');
    expect(targetWarnings({ training: { init: 'random', final_grad_norm: GRAD_NORM_WARN / 2 }, warnings: [] })).toEqual([]);
    expect(targetWarnings({ training: { init: 'exact', final_grad_norm: 1 } })).toEqual([]);
  });

  it('results rows: truth where known, trust from analysis, target and disagreement; csv, feather and the printed table agree', () => {
    const outcomes = new Map<string, NodeOutcome>();
    const dln = target('tgt_dln', dlnMeta);
    const mlp = target('tgt_mlp', mlpMeta);
    const pairs = [
      pairOf(0, { target: 'tgt_dln', targetDir: dln, sampler: 'hmc', mean: 7.95, mcse: 0.05 }, outcomes),
      pairOf(1, { target: 'tgt_dln', targetDir: dln, sampler: 'sgld', mean: 8.02, mcse: 0.06 }, outcomes),
      // 0.5 above HMC with combined SE 0.08: z = 6.2, a disagreement.
      pairOf(2, { target: 'tgt_dln', targetDir: dln, sampler: 'mclmc', mean: 8.45, mcse: 0.0625 }, outcomes),
      pairOf(3, {
        target: 'tgt_dln', targetDir: dln, sampler: 'vi', mean: 11.6, mcse: 0.02,
        warnings: ['variational estimate: a Gaussian family cannot follow a singular posterior'],
      }, outcomes),
      pairOf(4, { target: 'tgt_mlp', targetDir: mlp, sampler: 'sgld', mean: 4.2, mcse: 0.2, warnings: ['R-hat 1.06 > 1.01: chains disagree (not mixed)'] }, outcomes),
    ];
    const rows = resultRows(pairs, outcomes);
    expect(rows.map((r) => r.truth)).toEqual([8, 8, 8, 8, null]);
    expect(rows.map((r) => r.model)).toEqual(['DLN 5-3-5 rank 1', 'DLN 5-3-5 rank 1', 'DLN 5-3-5 rank 1', 'DLN 5-3-5 rank 1', 'MLP 4-4-4-1 relu']);
    expect(rows.map((r) => r.trust)).toEqual([
      'ok',
      'ok',
      'warn (1): disagrees with hmc (z 6.2)',
      'warn (2): variational',
      'warn (2): w* not a minimum',
    ]);
    expect(rows[1]!.agreement_z).toBeCloseTo(0.07 / Math.hypot(0.05, 0.06), 12);
    expect(rows[4]!.warnings[1]).toBe('R-hat 1.06 > 1.01: chains disagree (not mixed)');
    expect(rows[4]!.agreement).toBeNull();

    const csv = parseCsv(resultsCsv(rows));
    expect(csv.map((r) => r.trust)).toEqual(rows.map((r) => r.trust));
    expect(Number(csv[0]!.truth)).toBe(8);
    expect(csv[3]!.warnings).toMatch(/^variational estimate: .* \| disagrees with hmc: 11\.6 ± 0\.02 vs 7\.95 ± 0\.05/);
    const feather = tableFromIPC(resultsFeather(rows));
    expect(feather.getChild('trust')!.toArray()).toEqual(rows.map((r) => r.trust));
    expect(feather.getChild('truth')!.get(4)).toBeNull();

    const table = summaryTable(rows).split('\n');
    for (const [i, r] of rows.entries()) {
      const line = table[i + 2]!;
      expect(line.endsWith(r.trust), line).toBe(true);
      if (r.warnings.length > 0) expect(line).not.toMatch(/\sok$/);
    }
    expect(disagreementLines(rows)).toEqual([
      'tgt_dln mclmc: disagrees with hmc: 8.45 ± 0.0625 vs 7.95 ± 0.05 (z = 6.2 > 3)',
      'tgt_dln vi: disagrees with hmc: 11.6 ± 0.02 vs 7.95 ± 0.05 (z = 67.8 > 3)',
    ]);
    const summary = agreementSummary(rows);
    expect(Object.keys(summary)).toEqual(['tgt_dln']);
    expect(summary.tgt_dln!.checks.map((c) => [c.sampler, c.reference, c.disagrees])).toEqual([
      ['sgld', 'hmc', false], ['mclmc', 'hmc', true], ['vi', 'hmc', true],
    ]);
    expect(summary.tgt_dln!.checks[0]!.reference_key).toBe(join(home, 'runs', 'run_0'));
  });
});
