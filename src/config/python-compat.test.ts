/**
 * The Python system's own experiment files, data presets and cards (as it ships them, in
 * test/fixtures/python-lambda-hat/ named `folder__file.yaml`) plan here: every Python key is
 * mapped, accepted as the default, warned about once (file:line), or refused with a located
 * error; every sampler entry is checked against its sampler before any task exists.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateExperiment } from '../workflow/validate.js';
import { loadCard } from './cards.js';
import { derivedSamplerSeed, experimentStore, loadExperiment, type LoadedExperiment } from './experiment.js';
import { ConfigError } from './load.js';
import type { CompatNote } from './python-compat.js';

// Byte-identical copies of the Python system's files (config/parsl/slurm/cpu.yaml is config__parsl_slurm_cpu.yaml).
const REF = fileURLToPath(new URL('../../test/fixtures/python-lambda-hat/', import.meta.url));
const PRESETS = fileURLToPath(new URL('../../config/presets/', import.meta.url));
const ref = (name: string): string => join(REF, name);

function tmpDir(): string {
  return mkdtempSync(join(tmpdir(), 'lh-compat-'));
}

function tmpFile(text: string, name = 'e.yaml'): string {
  const p = join(tmpDir(), name);
  writeFileSync(p, text);
  return p;
}

async function errorOf(fn: () => unknown): Promise<ConfigError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** `key @ line` of the notes of one kind (the file's own notes only). */
function notesOf(e: LoadedExperiment, kind: CompatNote['kind']): string[] {
  return e.origin!.log.sorted().filter((n) => n.kind === kind).map((n) => `${n.key} @ ${n.where.replace(/^.*:(\d+)$/, '$1')}`);
}

/** The line of the first occurrence of `text` in a file (1-based). */
function lineOf(file: string, text: string): number {
  return readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;
}

describe('the Python experiment files plan unchanged', () => {
  it('config/experiments.yaml: store_root, samplers without seeds, VI algo and gamma', async () => {
    const f = ref('config__experiments.yaml');
    const e = loadExperiment(f);
    const v = await validateExperiment(e);
    expect(e.experiment).toBe('dev');
    expect(e.targets.map((t) => t.config.data.n)).toEqual([100, 20000]);
    expect(e.targets[1]!.config.training).toMatchObject({ steps: 10000 });
    // hmc and mclmc give no seed: derived from the experiment name and the position.
    expect(e.samplers.map((s) => s.seed)).toEqual([derivedSamplerSeed('dev', 0), derivedSamplerSeed('dev', 1), 12345, 54321]);
    expect(e.origin!.samplers.map((s) => s.seed)).toEqual(['derived', 'derived', 'file', 'file']);
    expect(e.origin!.store_root).toEqual({ value: 'runs', where: `${f}:17` });
    expect(e.samplers[3]).toMatchObject({ name: 'vi', overrides: { family: 'mfa', M: 8, r: 2 }, posterior: { gamma: 0.001 } });
    expect(notesOf(e, 'mapped')).toEqual(['samplers.3.overrides.algo @ 32', 'samplers.3.overrides.gamma @ 32']);
    expect(notesOf(e, 'no_effect')).toEqual([]);
    // The per-sampler gamma reaches the run's posterior; the other entries keep the default.
    const gammas = v.pairs.filter((p) => p.target_index === 0).map((p) => p.resolved.posterior.gamma);
    expect(gammas).toEqual([1, 1, 1, 0.001]);
    expect(v.pairs).toHaveLength(8);
  });

  it('config/experiments_smoke.yaml: HMC/MCLMC/data/VI keys map, four keys warn once each with their line', async () => {
    const f = ref('config__experiments_smoke.yaml');
    const e = loadExperiment(f);
    const v = await validateExperiment(e);
    const cfg = (j: number): Record<string, unknown> => v.pairs.find((p) => p.sampler_index === j)!.resolved.config;
    expect(e.targets[0]!.config.data.n).toBe(128);
    expect(e.targets[0]!.config.training).toMatchObject({ steps: 200 });
    expect(cfg(0)).toMatchObject({ warmup: 50, draws: 50, num_integration_steps: 10 });
    expect(cfg(1)).toMatchObject({ num_tuning_steps: 50, draws: 50, L: 1 });
    expect(cfg(2)).toMatchObject({ steps: 500, batch_size: 64, step_size: 1e-5, eval_every: 100 });
    expect(cfg(3)).toMatchObject({ family: 'mfa', M: 4, r: 1, steps: 1000, eval_every: 100 });
    expect(notesOf(e, 'mapped')).toEqual([
      'targets.0.overrides.data.n_train @ 12',
      'samplers.0.overrides.num_warmup @ 24', 'samplers.0.overrides.num_samples @ 25',
      'samplers.1.overrides.num_warmup @ 33', 'samplers.1.overrides.num_samples @ 34', 'samplers.1.overrides.trajectory_length @ 36',
      'samplers.3.overrides.algo @ 51',
    ]);
    expect(notesOf(e, 'same')).toEqual(['samplers.0.overrides.thinning @ 26', 'samplers.1.overrides.thinning @ 35']);
    expect(notesOf(e, 'no_effect')).toEqual([
      'targets.0.overrides.data.n_test @ 13',
      'targets.0.overrides.training.eval_every @ 16',
      'samplers.0.overrides.max_tree_depth @ 27',
      'samplers.3.overrides.whitening_mode @ 54',
    ]);
    for (const n of e.origin!.log.warnings) expect(n.message).toMatch(/no effect/);
  });

  it('config/smoke.yaml: the VI entry\'s algo and gamma are checked and mapped at plan time', async () => {
    const e = loadExperiment(ref('config__smoke.yaml'));
    const v = await validateExperiment(e);
    const vi = v.pairs.find((p) => p.sampler_index === 3)!;
    expect(vi.resolved.config).toMatchObject({ family: 'mfa', steps: 20, M: 2, r: 1, eval_every: 10 });
    expect(vi.resolved.posterior.gamma).toBe(0.01);
    expect(notesOf(e, 'no_effect')).toEqual([]);
  });

  it('tests/test_parsl_workflow_config.yaml: no experiment name, store_root, float32, a 10-step VI', async () => {
    const f = ref('tests__test_parsl_workflow_config.yaml');
    const e = loadExperiment(f);
    const v = await validateExperiment(e);
    expect(e.experiment).toBe('dev');
    expect(e.origin!.experiment_from).toBe('default');
    expect(e.dtype).toBe('float32');
    // VI's default eval_every (100) exceeds the 10 steps: the run records its last step.
    expect(v.pairs[0]!.schedule).toEqual({ steps: 10, burnIn: 0, evalEvery: 10 });
    expect(loadExperiment(f, [], { experimentName: 'named' }).experiment).toBe('named');
  });

  it('the Optuna study files are refused with what they are, at the line of their first study key', async () => {
    for (const name of ['config__optuna_default.yaml', 'config__optuna_demo.yaml', 'tests__test_optuna_config.yaml']) {
      const f = ref(name);
      const err = await errorOf(() => loadExperiment(f));
      expect(err.message).toContain(`${f}:${lineOf(f, 'problems:')}: problems: this is an Optuna study file`);
      expect(err.message).toContain('workflow llc runs an experiment: a list of targets and samplers');
    }
  });
});

describe('data presets and target sections with Python keys', () => {
  /** A presets directory holding the shipped presets, with the Python data presets in place of ours. */
  function pythonPresets(): string {
    const dir = tmpDir();
    for (const kind of ['model', 'data', 'teacher', 'training']) mkdirSync(join(dir, kind));
    for (const [kind, name] of [['model', 'small'], ['model', 'base'], ['teacher', '_null'], ['training', 'defaults']] as const) {
      copyFileSync(join(PRESETS, kind, `${name}.yaml`), join(dir, kind, `${name}.yaml`));
    }
    copyFileSync(ref('conf__data_small.yaml'), join(dir, 'data', 'small.yaml'));
    copyFileSync(ref('conf__data_base.yaml'), join(dir, 'data', 'base.yaml'));
    return dir;
  }

  it('conf/data/{small,base}.yaml: n_data is n, n_test warns once at its line in the preset, the ids match ours', () => {
    const dir = pythonPresets();
    const f = tmpFile('experiment: p\ntargets:\n  - {model: small, data: small, seed: 1}\n  - {model: small, data: base, seed: 1}\n  - {model: base, data: small, seed: 2}\n');
    const e = loadExperiment(f, [], { presetsDir: dir });
    expect(e.targets.map((t) => t.config.data.n)).toEqual([100, 20000, 100]);
    const warnings = e.origin!.log.warnings.map((n) => n.where);
    expect(warnings.sort()).toEqual([join(dir, 'data', 'base.yaml:3'), join(dir, 'data', 'small.yaml:3')]);
    // The Python preset describes the same data as ours: same target ids.
    const ours = loadExperiment(f);
    expect(e.targets.map((t) => t.target_id)).toEqual(ours.targets.map((t) => t.target_id));
  });

  it('n_data inline or in overrides; n_data next to n is a located conflict', async () => {
    const e = loadExperiment(tmpFile('targets:\n  - model: small\n    data: {preset: small, n_data: 64}\n    seed: 1\n    overrides: {data: {n_data: 80}}\n'));
    expect(e.targets[0]!.config.data.n).toBe(80);
    const f = tmpFile('targets:\n  - model: small\n    data: {n: 10, n_data: 20}\n    seed: 1\n');
    const err = await errorOf(() => loadExperiment(f));
    expect(err.message).toBe(`${f}:3: targets.0.data.n_data: 'n_data' (the Python name) and 'n' both set n (keep one of them)`);
  });

  it('null is the default and unsets a preset value: target_params: null with hidden gives [hidden] * depth', () => {
    const e = loadExperiment(tmpFile([
      'targets:',
      '  - {model: small, data: small, seed: 1, overrides: {model: {target_params: null, hidden: 3}}}',
      '  - {model: small, data: small, seed: 1, overrides: {model: {hidden: 3}, training: {learning_rate: 0.01, early_stop_tol: null}}}',
      '  - {model: small, data: small, seed: 1, teacher: {depth: 1, widths: null}, overrides: {training: {batch_size: null, early_stop_tol: 1.0e-4}}}',
    ].join('\n')));
    expect(e.targets[0]!.config.model).toMatchObject({ widths: [3, 3] });
    // With target_params still given, hidden has no effect, as in the Python system: one warning.
    expect(e.targets[1]!.config.model).toMatchObject({ widths: [4, 4] });
    expect(notesOf(e, 'no_effect')).toEqual(['targets.1.overrides.model.hidden @ 3']);
    expect(e.targets[1]!.config.training).toMatchObject({ lr: 0.01, early_stop: false });
    // A teacher given only a depth takes the student's target_params (the Python fallback).
    expect(e.targets[2]!.config.teacher).toMatchObject({ widths: [9] });
    expect(e.targets[2]!.config.training).toMatchObject({ early_stop: { tol: 1e-4 } });
    expect(notesOf(e, 'same')).toContain('targets.2.overrides.training.batch_size @ 4');
  });

  it('a typo of a Python key suggests the Python key', async () => {
    const f = tmpFile('targets:\n  - model: small\n    data: small\n    seed: 1\n    overrides: {data: {n_trian: 5}}\n');
    const err = await errorOf(() => loadExperiment(f));
    expect(err.message).toBe(`${f}:5: targets.0.overrides.data.n_trian: unknown key 'n_trian' (did you mean 'n_train'?)`);
  });
});

describe('sampler entries: Python keys, seeds and plan-time validation', () => {
  it('derives a seed from the experiment and the position (31 bits, stable, distinct)', () => {
    const a = derivedSamplerSeed('dev', 0);
    expect(a).toBe(derivedSamplerSeed('dev', 0));
    expect(new Set([a, derivedSamplerSeed('dev', 1), derivedSamplerSeed('other', 0)]).size).toBe(3);
    for (const s of [a, derivedSamplerSeed('x', 7)]) expect(Number.isInteger(s) && s >= 0 && s < 2 ** 31).toBe(true);
    const e = loadExperiment(tmpFile('experiment: s\ntargets: [{model: small, data: small, seed: 1}]\nsamplers:\n  - {name: hmc, seed: null}\n  - {name: hmc}\n'));
    expect(e.samplers.map((s) => s.seed)).toEqual([derivedSamplerSeed('s', 0), derivedSamplerSeed('s', 1)]);
  });

  it('a typo in a sampler\'s overrides fails at plan time at its line, suggesting our or the Python name', async () => {
    const f = tmpFile('experiment: x\ntargets: [{model: small, data: small, seed: 1}]\nsamplers:\n  - name: hmc\n    overrides:\n      draws: 5\n      num_sampels: 9\n  - {name: vi, overrides: {stesp: 3}}\n');
    const e = loadExperiment(f);
    expect((await errorOf(() => validateExperiment(e))).message)
      .toBe(`${f}:7: samplers.0.overrides.num_sampels: unknown key 'num_sampels' for sampler hmc (did you mean 'num_samples'?)`);
    const g = tmpFile('experiment: x\ntargets: [{model: small, data: small, seed: 1}]\nsamplers:\n  - {name: vi, overrides: {stesp: 3}}\n');
    expect((await errorOf(() => validateExperiment(loadExperiment(g)))).message)
      .toBe(`${g}:4: samplers.0.overrides.stesp: unknown key 'stesp' for sampler vi (did you mean 'steps'?)`);
  });

  it('a bad value under a Python key points at the Python key\'s line; algo: flow is refused; unknown sampler names', async () => {
    const f = tmpFile('targets: [{model: small, data: small, seed: 1}]\nsamplers:\n  - name: mclmc\n    overrides:\n      thinning: 1\n      num_samples: 0\n');
    const err = await errorOf(async () => validateExperiment(loadExperiment(f)));
    expect(err.message).toMatch(new RegExp(`^${f}:6: samplers\\.0\\.overrides\\.num_samples: \\(draws here\\) Too small`));
    const g = tmpFile('targets: [{model: small, data: small, seed: 1}]\nsamplers:\n  - name: vi\n    overrides: {M: 2,\n      algo: flow}\n');
    expect((await errorOf(() => loadExperiment(g))).message)
      .toBe(`${g}:5: samplers.0.overrides.algo: VI algo: flow (a normalizing flow) is not supported by lambda-hat (use algo: mfa (a mixture of factor analysers) or family: mean_field, or another sampler)`);
    const h = tmpFile('targets: [{model: small, data: small, seed: 1}]\nsamplers:\n  - {name: hcm}\n');
    expect((await errorOf(() => validateExperiment(loadExperiment(h)))).message).toMatch(new RegExp(`^${h}:3: samplers\\.0\\.name: unknown sampler 'hcm' \\(did you mean 'hmc'\\?`));
    const k = tmpFile('targets: [{model: small, data: small, seed: 1}]\nsamplers:\n  - {name: hmc, overrides: {num_samples: 5, draws: 6}}\n');
    expect((await errorOf(() => loadExperiment(k))).message).toMatch(/:3: samplers\.0\.overrides\.num_samples: 'num_samples' \(the Python name\) and 'draws' both set overrides\.draws/);
  });

  it('settings that only fail together (burn-in vs length) fail at plan time, naming the entry', async () => {
    const f = tmpFile('targets: [{model: small, data: small, seed: 1, burn_in: 3}]\nsamplers:\n  - {name: hmc, overrides: {draws: 5}, burn_in: 9}\n');
    const err = await errorOf(async () => validateExperiment(loadExperiment(f)));
    expect(err.message).toMatch(new RegExp(`^${f}:3: samplers\\.0\\.overrides: with target 0: .*burn_in \\(9\\) must be smaller than the number of steps \\(5\\)`));
  });

  it('Python keys written by --set map too, and say so', () => {
    const e = loadExperiment(ref('config__smoke.yaml'), ['samplers.0.overrides.num_samples=7', 'samplers.0.overrides.draws=null']);
    expect(e.samplers[0]!.overrides).toMatchObject({ draws: 7 });
    const note = e.origin!.log.notes.find((n) => n.key === 'samplers.0.overrides.num_samples')!;
    expect(note.where).toBe(`${ref('config__smoke.yaml')} (from --set samplers.0.overrides.num_samples=7)`);
  });
});

describe('store_root', () => {
  it('is the artifact root unless LAMBDA_HAT_HOME is set, and the rule says which one rules', () => {
    const f = ref('tests__test_parsl_workflow_config.yaml');
    const e = loadExperiment(f);
    expect(experimentStore(e, {}, '/work/x')).toEqual({
      home: '/work/x/test_runs_parsl', rule: `store_root 'test_runs_parsl' (${f}:3); LAMBDA_HAT_HOME is not set`,
    });
    expect(experimentStore(e, { LAMBDA_HAT_HOME: '/h' }, '/work/x')).toEqual({
      home: '/h', rule: `LAMBDA_HAT_HOME rules: the file's store_root 'test_runs_parsl' (${f}:3) is not used`,
    });
    expect(experimentStore(loadExperiment(ref('config__smoke.yaml')), {}, '/w').home).toBe('/w/artifacts');
  });
});

describe('the Python cards', () => {
  const cores = availableParallelism();

  it('config/parsl/local.yaml: type local with an executors list is the process pool', () => {
    const c = loadCard(ref('config__parsl_local.yaml'));
    expect(c).toMatchObject({
      executor: 'processes', label: 'local_htex', cores_per_worker: 1, max_workers: cores, retries: 1, run_dir: 'parsl_runinfo',
      worker_init: 'export MPLBACKEND=Agg\nexport JAX_DEFAULT_PRNG_IMPL=threefry2x32',
    });
    expect(c.max_workers_rule).toBe(`default: ${cores} cores / cores_per_worker 1`);
    expect(c.notes.map((n) => `${n.kind} ${n.key}`)).toEqual(['mapped executors']);
    // A --set wins over the executors entry; cores_per_worker caps as Parsl's HTEX does.
    expect(loadCard(ref('config__parsl_local.yaml'), ['max_workers=1']).max_workers).toBe(1);
    expect(loadCard(ref('config__parsl_local.yaml'), [`max_workers=${cores + 3}`]).max_workers).toBe(cores);
  });

  it('several executors add up; they must share worker_init; unknown keys in an entry are located', () => {
    const f = tmpFile('type: local\nexecutors:\n  - {label: a, max_workers: 2}\n  - {label: b, max_workers: 3}\n', 'card.yaml');
    expect(loadCard(f)).toMatchObject({ label: 'a+b', max_workers: 5, executor: 'processes' });
    const g = tmpFile('type: local\nexecutors:\n  - {label: a, worker_init: "export A=1"}\n  - label: b\n    worker_init: "export A=2"\n', 'card.yaml');
    expect(() => loadCard(g)).toThrow(`${g}:5: executors.1.worker_init: every executor must have the same worker_init`);
    const h = tmpFile('type: local\nexecutors:\n  - label: a\n    max_workrs: 2\n', 'card.yaml');
    expect(() => loadCard(h)).toThrow(`${h}:4: executors.0.max_workrs: unknown key 'max_workrs' (did you mean 'max_workers'?)`);
    const k = tmpFile('type: slurm\nexecutors:\n  - {label: a}\n', 'card.yaml');
    expect(() => loadCard(k)).toThrow(/card\.yaml:2: executors: only for a local process pool/);
  });

  it('config/parsl/slurm/{cpu,gpu-a100}.yaml: nulls are defaults, jobs at once as Parsl would run workers', () => {
    const cpu = loadCard(ref('config__parsl_slurm_cpu.yaml'));
    expect(cpu).toMatchObject({ executor: 'slurm', partition: 'normal', walltime: '01:59:00', cores_per_node: 2, mem_per_node: 64, max_workers: 200 });
    expect(cpu.gpu_type).toBeUndefined();
    expect(cpu.max_workers_rule).toBe('jobs at once = max_blocks 200 x nodes_per_block 1 x max_workers 1');
    expect(cpu.notes.map((n) => `${n.kind} ${n.key} @ ${n.where.split(':').pop()}`)).toEqual(['same gpu_type @ 12', 'same qos @ 13', 'same account @ 14', 'same constraint @ 15']);
    const gpu = loadCard(ref('config__parsl_slurm_gpu-a100.yaml'));
    expect(gpu).toMatchObject({ partition: 'gpu', gpus_per_node: 1, gpu_type: 'a100', constraint: 'a100', max_workers: 200 });
    expect(gpu.notes.filter((n) => n.kind === 'no_effect').map((n) => n.key)).toEqual(['gpus_per_node']);
    // Our own card without max_blocks: max_workers jobs at once.
    expect(loadCard('slurm/cpu', ['max_workers=3']).max_workers).toBe(3);
    expect(() => loadCard(ref('config__parsl_slurm_cpu.yaml'), ['max_blockz=2'])).toThrow(/did you mean 'max_blocks'/);
  });
});
