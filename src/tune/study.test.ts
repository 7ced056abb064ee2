/**
 * A small study end to end on the thread executor: trials run as tasks, a timed-out trial is
 * recorded and penalised, the outputs are written, and a rerun reuses every finished trial
 * (an interrupted one too: only what was missing runs).
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCard } from '../config/cards.js';
import { readContractFile, studyFile } from '../contracts/index.js';
import { loadStudy } from './config.js';
import { writeStudyOutputs } from './outputs.js';
import { runStudy } from './study.js';
import { quadraticPosteriorLambda } from '../posterior/truth.js';

const STUDY = `
study: tiny
problems:
  - model: {family: dln, in_dim: 3, widths: [2], out_dim: 3}
    teacher: {family: dln, rank: 1}
    data: {n: 200, noise_scale: 0}
    training: {init: teacher}
    seed: 3
    chains: {count: 2}
methods: [sgld]
optuna:
  max_trials_per_method: 6
  concurrency: {batch_size: 3}
  sampler: {type: tpe, seed: 5, n_startup_trials: 3}
search_space:
  sgld:
    eta0: {dist: float, low: 1.0e-4, high: 3.0e-3, log: true}
    steps: {dist: categorical, choices: [1500, 3000, 50000000]}
execution:
  budget: {trial_sec: 8}
`;

describe('workflow tune: a study on threads', () => {
  it('runs, penalises a timed-out trial, writes its outputs, and resumes reusing finished trials', { timeout: 120_000 }, async () => {
    const d = mkdtempSync(join(tmpdir(), 'lh-tune-'));
    const file = join(d, 'tiny.yaml');
    writeFileSync(file, STUDY);
    const home = join(d, 'home');
    const study = loadStudy(file);
    const card = loadCard('local-threads', ['max_workers=1']);

    // First invocation, interrupted after two trials have finished.
    const ac = new AbortController();
    let finished = 0;
    const first = await runStudy({
      study, card, home, signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'trial' && ++finished === 2) ac.abort();
      },
    });
    expect(first.cancelled).toBe(true);
    const kept = readContractFile(join(first.dir, 'study.json'), studyFile, 'study file');
    expect(kept.trials.length).toBeGreaterThanOrEqual(2);
    expect(kept.trials.length).toBeLessThan(6);

    // Resumed: the recorded trials are reused, the rest run.
    const second = await runStudy({ study, card, home });
    expect(second.cancelled).toBe(false);
    expect(second.reused).toBe(kept.trials.length);
    expect(second.ran).toBe(6 - kept.trials.length);
    const f = second.file;
    expect(f.trials.map((t) => t.number)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(f.problems[0]!.reference).toMatchObject({ kind: 'truth', value: 3.5 });
    for (const t of kept.trials) expect(f.trials[t.number]).toEqual(t);

    // Trials with 5e7 steps run out of their 8 s budget (a generous one: the others finish in well under a second of compute, even on a loaded machine): recorded, no value, never fatal.
    for (const t of f.trials) {
      if (t.params.steps === 50000000) {
        expect(t.state).toBe('timeout');
        expect(t.value).toBeNull();
      } else {
        expect(t.state).toBe('complete');
        expect(t.value).toBeCloseTo(Math.abs(t.llc_mean! - 3.5), 12);
        expect(t.total_fge).toBeGreaterThan(0);
      }
    }

    // Outputs: trials and Pareto tables, the ε-β view and the report with the Pareto table.
    const out = await writeStudyOutputs(second.dir, f);
    const trialsCsv = readFileSync(out.trials_csv, 'utf8').trim().split('\n');
    expect(trialsCsv.length).toBe(7);
    const pareto = readFileSync(out.pareto_csv, 'utf8').trim().split('\n');
    expect(pareto.length).toBeGreaterThan(1);
    expect(existsSync(out.pareto_feather)).toBe(true);
    const html = readFileSync(out.report, 'utf8');
    expect(html).toContain('Pareto front');
    expect(html).toContain('--set step_size=');
    expect(readFileSync(out.eps_beta_csv, 'utf8').trim().split('\n').length).toBe(1 + f.trials.filter((t) => t.state === 'complete').length);

    // A third run does nothing new.
    const third = await runStudy({ study, card, home });
    expect(third.reused).toBe(6);
    expect(third.ran).toBe(0);
  });

  it('scores each trial of a quadratic target against its exact λ at the trial\'s own nβ and γ', { timeout: 60_000 }, async () => {
    const d = mkdtempSync(join(tmpdir(), 'lh-tune-q-'));
    const file = join(d, 'quad.yaml');
    writeFileSync(file, `
problems:
  - {model: {family: quadratic, dim: 4}, data: {n: 1000}, seed: 2, chains: {count: 2}}
methods: [sgld]
optuna:
  max_trials_per_method: 3
  concurrency: {batch_size: 3}
  sampler: {type: random, seed: 1}
search_space:
  sgld:
    gamma: {dist: float, low: 1, high: 100, log: true}
    steps: {dist: int, low: 2000, high: 2000}
`);
    const r = await runStudy({ study: loadStudy(file), card: loadCard('local-threads', ['max_workers=1']), home: join(d, 'home') });
    expect(r.file.problems[0]!.reference).toMatchObject({ kind: 'truth', per_trial: true });
    const refs = r.file.trials.map((t) => t.reference);
    for (const t of r.file.trials) {
      expect(t.state).toBe('complete');
      const gamma = t.params.gamma as number;
      expect(t.reference).toBeCloseTo(quadraticPosteriorLambda({ d: 4, n: 1000, beta: 1 / Math.log(1000), gamma }), 10);
    }
    expect(new Set(refs).size).toBe(3);
  });
});
