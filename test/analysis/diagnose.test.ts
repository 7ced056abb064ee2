import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticRun } from './synthetic.js';
import { analyzeRun, THRESHOLDS } from '../../src/analysis/index.js';
import { loadRun } from '../../src/analysis/run.js';
import { diagnoseTask } from '../../src/tasks/diagnose.js';
import { trustReason } from '../../src/workflow/trust.js';
import { writeJsonAtomic } from '../../src/store/index.js';
import h5wasm from 'h5wasm/node';
import type { Dataset } from 'h5wasm/node';

const CONTRACT_KEYS = [
  'target_id', 'sampler', 'llc_mean', 'llc_std', 'llc_mcse', 'r_hat', 'ess_bulk', 'ess_tail',
  'chains', 'draws', 'burn_in', 'n', 'beta', 'gamma', 'L0', 'total_fge', 'walltime_s', 'warnings',
];

let home: string;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'lh-diagnose-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** Parses analysis.json as strict JSON and checks no number is NaN/Infinity anywhere. */
function readAnalysis(dir: string): Record<string, unknown> {
  const text = readFileSync(join(dir, 'analysis.json'), 'utf8');
  expect(text).not.toMatch(/\bNaN\b|\bInfinity\b/);
  return JSON.parse(text) as Record<string, unknown>;
}

function analyze(dir: string) {
  return analyzeRun(loadRun(dir), { inputsHash: 'test' });
}

describe('diagnose task', () => {
  it('writes analysis.json with every contract key and no warnings for a well-mixed run', async () => {
    const dir = writeSyntheticRun(home, { runId: 'run_good', mean: 5, sd: 1, rho: 0.3, draws: 400, seed: 11 });
    const res = await diagnoseTask({ kind: 'diagnose', run_dir: dir });
    expect(res.reused).toBe(false);
    const a = readAnalysis(dir);
    for (const k of CONTRACT_KEYS) expect(a, `key ${k}`).toHaveProperty(k);
    expect(a.warnings).toEqual([]);
    expect(a.chains).toBe(4);
    expect(a.draws).toBe(400);
    expect(a.total_fge).toBe(16000);
    // The estimate is the mean of the AR(1) draws around 5; MCSE ~ 1/sqrt(ESS) ~ 0.03.
    expect(Math.abs((a.llc_mean as number) - 5)).toBeLessThan(4 * (a.llc_mcse as number));
    expect(a.r_hat as number).toBeLessThan(THRESHOLDS.rhat);
    expect(a.ess_bulk as number).toBeGreaterThan(400);
    expect(res.llc_mean).toBe(a.llc_mean);
    expect(res.r_hat).toBe(a.r_hat);

    // The same kept draws as ArviZ InferenceData: posterior/llc is [chain, draw].
    await h5wasm.ready;
    const nc = new h5wasm.File(join(dir, 'trace.nc'), 'r');
    try {
      const llc = nc.get('posterior/llc') as Dataset;
      expect(llc.shape).toEqual([4, 400]);
      const values = llc.value as Float64Array;
      const meanOfNc = values.reduce((acc, v) => acc + v, 0) / values.length;
      expect(meanOfNc).toBeCloseTo(a.llc_mean as number, 10);
      expect(nc.attrs.sampler?.value).toBe('sgld');
    } finally {
      nc.close();
    }
  });

  it('reuses an up-to-date analysis, redoes it when the traces change or with force', async () => {
    const dir = writeSyntheticRun(home, { runId: 'run_reuse', draws: 200, seed: 3 });
    const first = await diagnoseTask({ kind: 'diagnose', run_dir: dir });
    expect(first.reused).toBe(false);
    const path = join(dir, 'analysis.json');
    // Backdate, so a rewrite is visible through the mtime even on coarse filesystems.
    utimesSync(path, new Date(1_000_000_000_000), new Date(1_000_000_000_000));
    const again = await diagnoseTask({ kind: 'diagnose', run_dir: dir });
    expect(again.reused).toBe(true);
    expect(statSync(path).mtimeMs).toBe(1_000_000_000_000);

    const forced = await diagnoseTask({ kind: 'diagnose', run_dir: dir, force: true });
    expect(forced.reused).toBe(false);
    expect(statSync(path).mtimeMs).toBeGreaterThan(1_000_000_000_000);

    // New traces (different draws), same file names: the stored analysis is stale.
    writeSyntheticRun(home, { runId: 'run_reuse', draws: 200, seed: 4, mean: 7 });
    const changed = await diagnoseTask({ kind: 'diagnose', run_dir: dir });
    expect(changed.reused).toBe(false);
    expect(changed.llc_mean!).toBeGreaterThan(6);

    // A deleted plot also makes the analysis stale.
    rmSync(join(dir, 'plots', 'rank.png'));
    const replot = await diagnoseTask({ kind: 'diagnose', run_dir: dir });
    expect(replot.reused).toBe(false);
    expect(statSync(join(dir, 'plots', 'rank.png')).size).toBeGreaterThan(0);
  });

  it('warns about R-hat, ESS, divergences and low acceptance for non-mixing HMC chains', async () => {
    const dir = writeSyntheticRun(home, {
      runId: 'run_hmc_bad', sampler: 'hmc', offset: 2, rho: 0.95, draws: 300, seed: 5,
      hmc: { acceptance: 0.3, divergences: 7 },
    });
    await diagnoseTask({ kind: 'diagnose', run_dir: dir });
    const a = readAnalysis(dir);
    const w = (a.warnings as string[]).join('\n');
    expect(w).toMatch(/R-hat .* > 1\.01/);
    expect(w).toMatch(/bulk ESS .* < 400/);
    expect(w).toMatch(/7 divergent transitions/);
    expect(w).toMatch(/low acceptance 0\.\d+ < 0\.6 for hmc/);
    expect(a.divergences).toBe(7);
    expect(a.plots).toContain('plots/energy.png');
  });

  it('warns when the running estimate still drifts, and not for the same run without drift', () => {
    const drifting = writeSyntheticRun(home, { runId: 'run_drift', trend: 3, rho: 0.2, draws: 400, seed: 8 });
    const w = analyze(drifting).warnings.join('\n');
    expect(w).toMatch(/still drifting/);
    const steady = writeSyntheticRun(home, { runId: 'run_steady', trend: 0, rho: 0.2, draws: 400, seed: 8 });
    expect(analyze(steady).warnings).toEqual([]);
  });

  it('burn-in removes a transient: the same drifting start is fine once discarded', () => {
    // First 100 draws of 500 carry the trend... emulated by a run whose manifest discards them.
    const dir = writeSyntheticRun(home, { runId: 'run_burn', draws: 500, burnIn: 100, seed: 9 });
    const a = analyze(dir);
    expect(a.burn_in).toBe(100);
    expect(a.draws).toBe(400);
  });

  it('warns about a negative λ̂', () => {
    const dir = writeSyntheticRun(home, { runId: 'run_neg', mean: -2, sd: 0.5, seed: 12 });
    const a = analyze(dir);
    expect(a.llc_mean!).toBeLessThan(0);
    expect(a.warnings.join('\n')).toMatch(/negative λ̂/);
  });

  it("takes acceptance thresholds and caveats from the sampler's declared traits, not its name", () => {
    const low = { acceptance: 0.3, divergences: 0 };
    const w = (sampler: string): string =>
      analyze(writeSyntheticRun(home, { runId: `run_acc_${sampler}`, sampler, hmc: low, draws: 200, seed: 31 })).warnings.join('\n');
    // MALA declares 0.4, HMC 0.6; SGLD declares none (its chains have no Metropolis step).
    expect(w('mala')).toMatch(/low acceptance 0\.\d+ < 0\.4 for mala/);
    expect(w('hmc')).toMatch(/low acceptance 0\.\d+ < 0\.6 for hmc/);
    expect(w('sgld')).not.toMatch(/low acceptance/);
    // A sampler this version does not know gets the thresholds every sampler has, and no more.
    expect(w('nuts')).not.toMatch(/low acceptance|variational/);
  });

  it("warns when SGNHT's minibatch gradient noise is above its declared threshold, and only then", () => {
    const w = (sampler: string, gradientNoise: number): string =>
      analyze(writeSyntheticRun(home, { runId: `run_gn_${sampler}_${gradientNoise}`, sampler, gradientNoise, draws: 200, seed: 32 })).warnings.join('\n');
    // 0.58: the singular suite's RRR at batch 1024 (+22%); 0.07: a DLN it passes.
    expect(w('sgnht', 0.58)).toMatch(/^minibatch gradient noise 0\.58 of the injected noise \(> 0\.2\)/m);
    expect(w('sgnht', 0.07)).not.toMatch(/gradient noise/);
    // SGLD declares no such threshold (it has no thermostat to fool).
    expect(w('sgld', 0.58)).not.toMatch(/gradient noise/);
    expect(trustReason('minibatch gradient noise 0.58 of the injected noise (> 0.2): x').short).toBe('gradient noise 0.58');
  });

  it('warns when the step guard cut the step by 2x or more while the chains were recorded, and only then', () => {
    const w = (first: number, last: number): string =>
      analyze(writeSyntheticRun(home, { runId: `run_step_${first}_${last}`, sampler: 'sgld', stepSize: { first, last }, draws: 200, seed: 33 })).warnings.join('\n');
    // 9.95e-7 -> 2.93e-7: a chain of the 20-16-3-19-6-11 DLN at the origin (dln-wide seed 2).
    expect(w(9.95e-7, 2.93e-7)).toMatch(/^step lowered 3\.4x while recording \(chain 0: 9\.95e-7 -> 2\.93e-7\)/m);
    expect(w(1e-6, 0.7e-6)).not.toMatch(/step lowered/);
    expect(w(1e-6, 1e-6)).not.toMatch(/step lowered/);
    expect(trustReason('step lowered 3.4x while recording (chain 0: 9.95e-7 -> 2.93e-7): x').short).toBe('step lowered 3.4x');
  });

  it('flags a VI estimate as variational, and only for VI', () => {
    const vi = analyze(writeSyntheticRun(home, { runId: 'run_vi', sampler: 'vi', draws: 400, seed: 21 }));
    expect(vi.warnings.join('\n')).toMatch(/variational estimate/);
    const sgld = analyze(writeSyntheticRun(home, { runId: 'run_not_vi', draws: 400, seed: 21 }));
    expect(sgld.warnings.join('\n')).not.toMatch(/variational/);
  });

  it('drops and reports a chain that blew up, estimating from the others', () => {
    const dir = writeSyntheticRun(home, { runId: 'run_blowup', blowUp: [2], seed: 13 });
    const a = analyze(dir);
    expect(a.chains).toBe(3);
    expect(a.chain_ids).toEqual([0, 1, 3]);
    expect(a.warnings.join('\n')).toMatch(/chain 2 failed: .*NaN/);
    expect(a.warnings.join('\n')).toMatch(/only 3 of 4 chains are usable/);
    expect(Number.isFinite(a.llc_mean!)).toBe(true);
  });

  it('reports chains the manifest lists as failed or that are missing from the traces', () => {
    const dir = writeSyntheticRun(home, {
      runId: 'run_failed', chains: 3, seed: 14,
      chainsRequested: 4, failures: [{ chain: 3, step: 17, reason: 'worker crashed' }],
    });
    const a = analyze(dir);
    expect(a.warnings.join('\n')).toMatch(/chain 3 failed: at step 17: worker crashed/);
    expect(a.chains).toBe(3);
  });

  it('a single chain gives null R-hat with a reason and valid JSON', async () => {
    const dir = writeSyntheticRun(home, { runId: 'run_one', chains: 1, draws: 300, seed: 15 });
    await diagnoseTask({ kind: 'diagnose', run_dir: dir });
    const a = readAnalysis(dir);
    expect(a.r_hat).toBeNull();
    expect((a.reasons as Record<string, string>).rhat).toMatch(/at least 2 chains/);
    expect((a.warnings as string[]).join('\n')).toMatch(/R-hat not computed/);
    expect(a.llc_mean).not.toBeNull();
  });

  it('a run whose burn-in eats every draw gives nulls with reasons, not NaN', async () => {
    const dir = writeSyntheticRun(home, { runId: 'run_allburn', draws: 50, burnIn: 80, seed: 16 });
    await diagnoseTask({ kind: 'diagnose', run_dir: dir });
    const a = readAnalysis(dir);
    expect(a.llc_mean).toBeNull();
    expect(a.llc_mcse).toBeNull();
    expect((a.warnings as string[]).join('\n')).toMatch(/discards all 50 recorded draws/);
  });

  it('fails clearly on a directory that is not a run', async () => {
    const dir = join(home, 'runs', 'not_a_run');
    writeJsonAtomic(join(dir, 'other.json'), {});
    await expect(diagnoseTask({ kind: 'diagnose', run_dir: dir })).rejects.toThrow(/no manifest\.json/);
  });
});
