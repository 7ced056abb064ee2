import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCard } from '../config/cards.js';
import { ConfigError } from '../config/load.js';
import { loadStudy } from './config.js';
import { renderStudyPlan, studyPlan } from './plan.js';

const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'python-lambda-hat');
const pythonFile = (name: string): string => join(FIXTURES, name);
const lineOf = (file: string, text: string): number => readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;
const tmp = (): string => mkdtempSync(join(tmpdir(), 'lh-tune-cfg-'));

describe('study files: the Python system\'s optuna files as written', () => {
  it('plans the default file: three methods, their spaces mapped onto sampler settings, one warning per ignored key', () => {
    const f = pythonFile('config__optuna_default.yaml');
    const s = loadStudy(f);
    expect(s.methods.map((m) => m.method)).toEqual(['sgld', 'vi', 'mclmc']);
    expect(s.max_trials).toBe(100);
    expect(s.batch_size).toBe(16);
    expect(s.search).toEqual({ type: 'tpe', seed: 42, n_startup_trials: 20 });
    expect(s.budget).toEqual({ hmc_sec: 7200, trial_sec: 600 });
    const sgld = s.methods[0]!;
    expect(Object.fromEntries(sgld.params.map((p) => [p.name, p.to.join('.')]))).toEqual({
      eta0: 'overrides.step_size', gamma: 'posterior.gamma', batch: 'overrides.batch_size', precond_type: 'overrides.precond', steps: 'overrides.steps',
    });
    expect(sgld.params[0]!.spec).toEqual({ dist: 'float', low: 1e-6, high: 0.1, log: true, step: null });
    expect(s.methods[1]!.dropped).toEqual(['whitening_mode']);
    expect(s.methods[2]!.dropped).toEqual(['target_accept']);
    // The problem's Hydra-style dotted override reached the data section.
    expect(s.problems[0]!.config.data.noise_scale).toBe(0.05);
    const warnings = s.log.warnings.map((n) => `${n.where} ${n.key}`);
    expect(warnings).toContain(`${f}:${lineOf(f, 'pruner:')} optuna.pruner`);
    expect(warnings).toContain(`${f}:${lineOf(f, 'parsl_card:')} execution.parsl_card`);
    expect(warnings).toContain(`${f}:${lineOf(f, 'store:')} store`);
    expect(new Set(warnings).size).toBe(warnings.length);
    const plan = renderStudyPlan(studyPlan(s, loadCard('local'), tmp()));
    expect(plan).toContain('eta0           -> overrides.step_size');
    expect(plan).toContain('300 planned');
  });

  it('plans the demo file (VI only)', () => {
    const s = loadStudy(pythonFile('config__optuna_demo.yaml'));
    expect(s.methods.map((m) => m.method)).toEqual(['vi']);
    expect(s.max_trials).toBe(50);
    expect(s.batch_size).toBe(8);
    expect(s.budget.hmc_sec).toBe(3600);
  });

  it('plans the test file: its flat keys do what they say, the shipped spaces stand in for its missing search_space', () => {
    const f = pythonFile('tests__test_optuna_config.yaml');
    const s = loadStudy(f);
    expect(s.max_trials).toBe(3);
    expect(s.batch_size).toBe(2);
    expect(s.budget).toEqual({ hmc_sec: 180, trial_sec: 60 });
    expect(s.space_source).toMatch(/config\/tune\/search-space\.yaml$/);
    const mapped = s.log.notes.filter((n) => n.kind === 'mapped').map((n) => `${n.where} ${n.key} -> ${n.to}`);
    expect(mapped).toContain(`${f}:${lineOf(f, 'max_trials:')} optuna.max_trials -> optuna.max_trials_per_method`);
    expect(mapped).toContain(`${f}:${lineOf(f, 'method_budget_sec')} optuna.method_budget_sec -> execution.budget.trial_sec`);
    // The reference of a target without a known λ is an HMC run within the file's budget.
    expect(renderStudyPlan(studyPlan(s, loadCard('local'), tmp()))).toMatch(/reference: hmc run \(seed \d+; budget 180 s\)/);
  });

  it('a mistyped key is an error with file:line and did-you-mean; so is an unknown search parameter', () => {
    const d = tmp();
    const f = join(d, 'typo.yaml');
    writeFileSync(f, 'problems:\n  - {model: small, data: small, teacher: _null, seed: 1}\nmethods: [sgld]\noptuna:\n  max_trails_per_method: 3\n');
    expect(() => loadStudy(f)).toThrow(ConfigError);
    expect(() => loadStudy(f)).toThrow(`${f}:5: optuna.max_trails_per_method: unknown key 'max_trails_per_method' (did you mean 'max_trials_per_method'?)`);
    const g = join(d, 'param.yaml');
    writeFileSync(g, 'problems:\n  - {model: small, data: small, teacher: _null, seed: 1}\nmethods: [sgld]\nsearch_space:\n  sgld:\n    step_sise: {dist: float, low: 1.0e-5, high: 1.0e-3, log: true}\n');
    expect(() => loadStudy(g)).toThrow(`${g}:6: search_space.sgld.step_sise: 'step_sise' is not a setting of sampler sgld (did you mean 'step_size'?)`);
    const c = join(d, 'choice.yaml');
    writeFileSync(c, 'problems:\n  - {model: small, data: small, teacher: _null, seed: 1}\nmethods: [sgld]\nsearch_space:\n  sgld:\n    precond_type:\n      dist: categorical\n      choices: [none, adamw]\n');
    expect(() => loadStudy(c)).toThrow(new RegExp(`${c}:8: search_space\\.sgld\\.precond_type\\.choices: "adamw" is not a valid overrides\\.precond for sgld`));
    const b = join(d, 'bounds.yaml');
    writeFileSync(b, 'problems:\n  - {model: small, data: small, teacher: _null, seed: 1}\nmethods: [sgld]\nsearch_space:\n  sgld:\n    gamma: {dist: float, low: 0, high: 1}\n');
    expect(() => loadStudy(b)).toThrow(/bounds\.yaml:6: search_space\.sgld\.gamma\.low: 0 is not a valid posterior\.gamma for sgld/);
    const h = join(d, 'method.yaml');
    writeFileSync(h, 'problems:\n  - {model: small, data: small, teacher: _null, seed: 1}\nmethods: [sgdl]\n');
    expect(() => loadStudy(h)).toThrow(/method\.yaml:3: methods\.0: unknown method 'sgdl' \(did you mean 'sgld'\?/);
  });

  it('an experiment is not a study', () => {
    expect(() => loadStudy(join(process.cwd(), 'config', 'smoke.yaml'))).toThrow(/not a study/);
  });
});
