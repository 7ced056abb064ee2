/**
 * Budgets. A sampler entry's time_budget ends its chains cleanly with the draws they have, marked
 * in the manifest and flagged by the analysis and the trust column; the workflow's time_budget
 * stops scheduling and ends running sample tasks the same way, then still diagnoses them. A work
 * budget (GFLOP per chain) sizes the default run lengths on large targets only.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCard } from '../../src/config/cards.js';
import { loadExperiment } from '../../src/config/experiment.js';
import { analyzeRun } from '../../src/analysis/index.js';
import { loadRun } from '../../src/analysis/run.js';
import { buildTask } from '../../src/tasks/build.js';
import { readRunManifest, resolveSampleSpec, runBudget, sampleTask } from '../../src/tasks/sample.js';
import { loadSampler, resolveSamplerConfig } from '../../src/samplers/registry.js';
import { trustOf } from '../../src/workflow/trust.js';
import { runWorkflow } from '../../src/workflow/index.js';
import type { SamplerEntry } from '../../src/contracts/index.js';

function experiment(body: string): ReturnType<typeof loadExperiment> {
  const dir = mkdtempSync(join(tmpdir(), 'lh-budget-cfg-'));
  writeFileSync(join(dir, 'budget.yaml'), body);
  return loadExperiment(join(dir, 'budget.yaml'));
}

const TARGET = `targets:
  - {model: small, data: small, teacher: _null, seed: 42, overrides: {training: {steps: 100}}}
`;

describe('time_budget of a sampler entry', () => {
  it('ends every chain at its share of the budget with the draws it has, marked and warned', async () => {
    const exp = experiment(`experiment: budget\n${TARGET}samplers:\n  - {name: hmc, seed: 1, time_budget: 1.5, chains: {count: 2}, overrides: {draws: 10000000, warmup: 20, num_integration_steps: 3}}\n`);
    const home = mkdtempSync(join(tmpdir(), 'lh-budget-'));
    const built = await buildTask({ kind: 'build', home, target: exp.targets[0]!.config });
    const entry = exp.samplers[0]!;
    const t0 = Date.now();
    const run = await sampleTask({ kind: 'sample', home, target_id: built.target_id, sampler: entry });
    // Ten million draws would take hours: the budget (plus opening the target) ended it.
    expect(Date.now() - t0).toBeLessThan(10_000);
    const m = readRunManifest(run.dir);
    expect(m.budget).toEqual({ time_budget_s: 1.5, source: 'sampler', stopped: true, chains_stopped: [0, 1] });
    // Both chains in one thread got draws: each had its share of the time, not the first all of it.
    for (const c of m.per_chain) {
      expect(c.stopped_by_budget).toBe(true);
      expect(c.failure).toBeNull();
      expect(c.steps_done).toBeGreaterThan(10);
      expect(c.steps_done).toBeLessThan(10_000_000);
    }
    expect(m.draws_per_chain.every((d) => d > 10)).toBe(true);
    const analysis = analyzeRun(loadRun(run.dir), { inputsHash: '' });
    expect(analysis.llc_mean).not.toBeNull();
    const warning = analysis.warnings.find((w) => w.startsWith('stopped at its time budget of 1.5 s'));
    expect(warning).toMatch(/chain 0 \d+, chain 1 \d+ of 10000000 steps/);
    expect(trustOf(analysis.warnings).reasons.map((r) => r.short)).toContain('cut short by time budget');

    // A budgeted run is another run than the unbudgeted one (its length depends on the clock).
    const { time_budget: _t, ...unbudgeted } = entry;
    const spec = { kind: 'sample' as const, home, target_id: built.target_id };
    expect((await resolveSampleSpec({ ...spec, sampler: unbudgeted })).run_id).not.toBe(run.run_id);
    // The same budget again reuses it.
    expect((await sampleTask({ ...spec, sampler: entry })).reused).toBe(true);
  }, 60_000);

  it('the earlier of the entry budget and the workflow deadline rules', () => {
    expect(runBudget(1000, null, undefined)).toBeNull();
    expect(runBudget(1000, 5, undefined)).toEqual({ deadline_ms: 6000, seconds: 5, source: 'sampler' });
    expect(runBudget(1000, 5, 4000)).toEqual({ deadline_ms: 4000, seconds: 3, source: 'workflow' });
    expect(runBudget(1000, 2, 4000)).toEqual({ deadline_ms: 3000, seconds: 2, source: 'sampler' });
    expect(runBudget(1000, null, 2000)).toEqual({ deadline_ms: 2000, seconds: 1, source: 'workflow' });
  });
});

describe('time_budget of a workflow', () => {
  it('ends the running sample task cleanly, starts no other, and still diagnoses what was sampled', async () => {
    const exp = experiment(`experiment: wfbudget\ntime_budget: 3\n${TARGET}samplers:
  - {name: hmc, seed: 1, chains: {count: 2}, overrides: {draws: 10000000, warmup: 20, num_integration_steps: 40}}
  - {name: sgld, seed: 3, overrides: {steps: 500, warmup: 100, eval_every: 10}}
`);
    expect(exp.time_budget).toBe(3);
    const home = mkdtempSync(join(tmpdir(), 'lh-wfbudget-'));
    // The target is built first, so the workflow reuses it and its 3 s go to sampling: on a loaded
    // machine the build alone could outlast the budget, and HMC would then never start.
    await buildTask({ kind: 'build', home, target: exp.targets[0]!.config });
    const t0 = Date.now();
    const r = await runWorkflow({ experiment: exp, card: loadCard('local-threads', ['max_workers=1']), home, progress: 'silent' });
    // Unbudgeted, the HMC task alone would run for hours (1e7 draws of 41 gradients); the bound
    // only has to tell that from a budget that held, so it leaves room for a loaded machine's
    // diagnose and report (31 s was seen with a test run beside it).
    expect(Date.now() - t0).toBeLessThan(120_000);
    const hmc = r.rows.find((row) => row.sampler === 'hmc')!;
    const sgld = r.rows.find((row) => row.sampler === 'sgld')!;
    // One worker: the HMC task took it and ran into the deadline; SGLD never started.
    expect(hmc.status).toBe('ok');
    expect(hmc.llc_mean).not.toBeNull();
    expect(hmc.warnings.some((w) => w.startsWith("stopped at the workflow's time budget"))).toBe(true);
    const m = readRunManifest(hmc.run_dir!);
    expect(m.budget).toMatchObject({ source: 'workflow', stopped: true, chains_stopped: [0, 1] });
    expect(sgld.status).not.toBe('ok');
    const sgldSample = [...r.outcomes.values()].find((o) => o.stage === 'sample' && o.label.includes('sgld'))!;
    expect(sgldSample).toMatchObject({ status: 'cancelled', error: { message: "not started: the workflow's time budget of 3 s was reached" } });
    expect(r.failed.length).toBeGreaterThan(0);
  }, 180_000);
});

describe('work_budget', () => {
  const sized = (name: string, overrides: Record<string, unknown>, n: number, dim: number, budget = 3000) => {
    const loaded = loadSampler(name);
    return loaded.sampler.budgetLengths(resolveSamplerConfig(loaded, overrides), new Set(Object.keys(overrides)), n, dim, budget);
  };

  it('leaves runs on small targets as configured, and shortens default lengths in proportion on large ones', () => {
    // 45 parameters, n = 100: a default HMC run plans 1.3e4 gradients of 27 kFLOP each.
    expect(sized('hmc', {}, 100, 45)).toBeNull();
    // 9921 parameters, n = 20000: 1.19 GFLOP per gradient, 1.3e4 gradients planned per chain.
    const hmc = sized('hmc', {}, 20000, 9921)!;
    expect(hmc.report.planned_gflop).toBeCloseTo((200 + 1000) * 11 * 6 * 20000 * 9921 / 1e9, 6);
    // Warmup stays at its floor (100) and the draws get the rest of the budget: 3000 GFLOP is
    // 229.0 iterations of 11 gradients, so 129 draws (plain proportion would give 191 and
    // overrun the budget by the floor's excess).
    const gflopPerIter = 11 * 6 * 20000 * 9921 / 1e9;
    expect(Math.floor(3000 / gflopPerIter)).toBe(229);
    expect(hmc.report.keys).toEqual({ warmup: { default: 200, used: 100 }, draws: { default: 1000, used: 129 } });
    expect(hmc.cfg).toMatchObject({ warmup: 100, draws: 129, num_integration_steps: 10 });
    expect(hmc.report.factor).toBeCloseTo(229 * gflopPerIter / hmc.report.planned_gflop, 12);
    expect(hmc.report.factor).toBeLessThanOrEqual(3000 / hmc.report.planned_gflop);
    // When the floors alone overrun the budget, the run is the floors, and says how much it does.
    const floors = sized('hmc', {}, 20000, 9921, 1000)!;
    expect(floors.cfg).toMatchObject({ warmup: 100, draws: 100 });
    expect(floors.report.factor).toBeCloseTo(200 * gflopPerIter / floors.report.planned_gflop, 12);
    // A length the entry sets is the user's: it is never resized.
    const explicit = sized('hmc', { draws: 1000 }, 20000, 9921)!;
    expect(explicit.report.keys).toEqual({ warmup: { default: 200, used: 100 } });
    expect(explicit.cfg.draws).toBe(1000);
    // A null default stands for its basis (MCLMC's tuning steps: max(draws, 1000)).
    const mclmc = sized('mclmc', {}, 20000, 9921)!;
    expect(Object.keys(mclmc.report.keys).sort()).toEqual(['draws', 'num_tuning_steps']);
    expect(mclmc.report.keys.num_tuning_steps!.default).toBe(1000);
    // SGLD keeps its own sizing rule; only its cap comes down.
    expect(Object.keys(sized('sgld', { step_size: 1e-6, eval_every: 50 }, 20000, 9921)!.report.keys)).toEqual(['max_steps']);
    expect(sized('vi', {}, 20000, 9921)!.report.keys.steps!.used).toBeLessThan(5000);
  });

  it('is part of the run id through the lengths it sets, and null turns it off', async () => {
    const exp = experiment(`experiment: work\n${TARGET}samplers:\n  - {name: hmc, seed: 1}\n`);
    const home = mkdtempSync(join(tmpdir(), 'lh-work-'));
    const built = await buildTask({ kind: 'build', home, target: exp.targets[0]!.config });
    const spec = { kind: 'sample' as const, home, target_id: built.target_id };
    const entry: SamplerEntry = exp.samplers[0]!;
    // A tiny budget resizes even this small target's defaults.
    const tiny = await resolveSampleSpec({ ...spec, sampler: { ...entry, work_budget: 1e-3 } });
    expect(tiny.lengths?.keys.draws).toBeDefined();
    const none = await resolveSampleSpec({ ...spec, sampler: { ...entry, work_budget: null } });
    const byDefault = await resolveSampleSpec({ ...spec, sampler: entry });
    expect(none.lengths).toBeNull();
    expect(byDefault.lengths).toBeNull();
    expect(byDefault.run_id).toBe(none.run_id);
    expect(tiny.run_id).not.toBe(none.run_id);
  }, 30_000);
});
