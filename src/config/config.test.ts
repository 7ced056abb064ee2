import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadExperiment, loadTargetFile, resolveTargetObject, targetIdOf } from './experiment.js';
import { applySets, ConfigError, deepMerge, formatConfigError, nearestKey, parseConfigFile } from './load.js';
import { mlpParamCount, solveWidths } from './widths.js';

const SMOKE = fileURLToPath(new URL('../../config/smoke.yaml', import.meta.url));

function tmpFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'lh-config-'));
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('width solver and preset sizes', () => {
  it('gives the Python presets: small [4,4] = 45 params, base [62,62,62] = 9921 params', () => {
    const small = resolveTargetObject({ model: 'small', data: 'small', seed: 0 });
    const base = resolveTargetObject({ model: 'base', data: 'base', seed: 0 });
    expect(small.model).toMatchObject({ family: 'mlp', widths: [4, 4], in_dim: 4, out_dim: 1 });
    expect(base.model).toMatchObject({ family: 'mlp', widths: [62, 62, 62], in_dim: 32, out_dim: 1 });
    expect(mlpParamCount([4, 4, 4, 1], true)).toBe(45);
    expect(mlpParamCount([32, 62, 62, 62, 1], true)).toBe(9921);
  });

  it('depth 1 uses h = floor((P - out) / (in + 1)), at least 1', () => {
    expect(solveWidths(4, 1, 1, 50)).toEqual([9]);
    expect(solveWidths(10, 2, 1, 5)).toEqual([1]);
  });

  it('depth >= 2 picks the largest h with a h^2 + b h <= P', () => {
    for (const [inD, outD, L, P] of [[4, 1, 2, 50], [32, 1, 3, 10000], [3, 2, 4, 1000], [7, 3, 2, 12345], [1, 1, 5, 17]]) {
      const [h] = solveWidths(inD!, outD!, L!, P!);
      const a = L! - 1;
      const b = inD! + 1 + (L! - 1) + outD!;
      const f = (x: number): number => a * x * x + b * x;
      expect(h).toBeGreaterThanOrEqual(1);
      if (f(1) <= P!) {
        expect(f(h!)).toBeLessThanOrEqual(P!);
        expect(f(h! + 1)).toBeGreaterThan(P!);
      }
    }
  });
});

describe('loadExperiment', () => {
  it('loads the seed smoke file unchanged', () => {
    const e = loadExperiment(SMOKE);
    expect(e.experiment).toBe('smoke');
    expect(e.dtype).toBe('float64');
    expect(e.targets).toHaveLength(1);
    const t = e.targets[0]!;
    expect(t.target_id).toMatch(/^tgt_[0-9a-f]{12}$/);
    expect(t.config.seed).toBe(42);
    expect(t.config.model).toMatchObject({ widths: [4, 4] });
    expect(t.config.data.n).toBe(100);
    expect(t.config.training).toMatchObject({ init: 'random', steps: 100, optimizer: 'adam', lr: 1e-3 });
    // _null teacher: the student's architecture.
    expect(t.config.teacher).toMatchObject({ family: 'mlp', widths: [4, 4], activation: 'relu' });
    expect(e.samplers.map((s) => s.name)).toEqual(['hmc', 'mclmc', 'sgld', 'vi']);
    expect(e.samplers[3]!.overrides).toEqual({ steps: 20, M: 2, r: 1, eval_every: 10 });
    expect(e.samplers[2]!.seed).toBe(3);
  });

  it('maps jax_enable_x64: false to float32 and rejects a contradicting dtype', () => {
    const f = tmpFile('e.yaml', 'experiment: x\njax_enable_x64: false\ntargets:\n  - {model: small, data: small, seed: 1}\n');
    const e = loadExperiment(f);
    expect(e.dtype).toBe('float32');
    expect(e.targets[0]!.config.dtype).toBe('float32');
    const g = tmpFile('e.yaml', 'experiment: x\njax_enable_x64: false\ndtype: float64\ntargets:\n  - {model: small, data: small, seed: 1}\n');
    expect(errorOf(() => loadExperiment(g)).message).toMatch(/e\.yaml:3: dtype: .*contradicts/);
  });

  it('keeps posterior, chains and burn_in per target and per sampler, outside the target id', () => {
    const text = [
      'experiment: x',
      'targets:',
      '  - model: small',
      '    data: small',
      '    seed: 1',
      '    posterior: {beta0: 2, beta_mode: fixed}',
      '    chains: {count: 8}',
      '    overrides: {posterior: {gamma: 10}, burn_in: 5}',
      'samplers:',
      '  - {name: hmc, seed: 1, chains: {count: 2, init_noise: 0.1}, burn_in: 0.5, posterior: {prior_radius: 3}}',
    ].join('\n');
    const e = loadExperiment(tmpFile('e.yaml', text));
    const t = e.targets[0]!;
    expect(t.posterior).toEqual({ beta0: 2, beta_mode: 'fixed', gamma: 10 });
    expect(t.chains).toEqual({ count: 8 });
    expect(t.burn_in).toBe(5);
    expect(e.samplers[0]).toMatchObject({ chains: { count: 2, init_noise: 0.1 }, burn_in: 0.5, posterior: { prior_radius: 3 } });
    const plain = loadExperiment(tmpFile('e.yaml', 'experiment: x\ntargets:\n  - {model: small, data: small, seed: 1}\n'));
    expect(t.target_id).toBe(plain.targets[0]!.target_id);
  });

  it('gives an inline mapping equal to a preset the same id, and a different seed a new one', () => {
    const a = resolveTargetObject({ model: 'small', data: 'small', teacher: '_null', seed: 5 });
    const b = resolveTargetObject({
      model: { in_dim: 4, out_dim: 1, widths: [4, 4], activation: 'relu', init: 'uniform' },
      data: { n: 100, noise_scale: 0.1 },
      seed: 5,
    });
    expect(targetIdOf(a)).toBe(targetIdOf(b));
    expect(targetIdOf(resolveTargetObject({ model: 'small', data: 'small', seed: 6 }))).not.toBe(targetIdOf(a));
  });

  it('applies --set on paths through preset names, arrays replacing and objects merging', () => {
    const e = loadExperiment(SMOKE, [
      'targets.0.data.n=500',
      'targets.0.model.widths=[3, 2]',
      'targets.0.model.depth=2',
      'targets.0.overrides={training: {lr: 0.01}}',
      'samplers.0.overrides.draws=100',
    ]);
    const t = e.targets[0]!.config;
    expect(t.data.n).toBe(500);
    expect(t.model).toMatchObject({ widths: [3, 2] });
    // The object set merged into overrides: steps from the file survive next to the new lr.
    expect(t.training).toMatchObject({ lr: 0.01, steps: 100 });
    expect(e.samplers[0]!.overrides).toEqual({ draws: 100, warmup: 5, num_integration_steps: 5 });
  });

  it('resolves DLN and quadratic targets', () => {
    const d = resolveTargetObject({
      model: { family: 'dln', in_dim: 5, widths: [3], out_dim: 5 },
      teacher: { family: 'dln', rank: 2 },
      data: { n: 50, noise_scale: 0 },
      training: { init: 'teacher' },
      seed: 1,
    });
    expect(d.model).toEqual({ family: 'dln', in_dim: 5, widths: [3], out_dim: 5 });
    expect(d.teacher).toMatchObject({ family: 'dln', rank: 2, widths: [3] });
    expect(d.training).toEqual({ init: 'teacher', loss: { kind: 'mse' } });
    const q = resolveTargetObject({ model: { family: 'quadratic', dim: 7 }, data: 'small', seed: 1 });
    expect(q).toMatchObject({ model: { family: 'quadratic', dim: 7 }, data: { n: 100 }, teacher: null, training: null });
  });
});

describe('config errors name the file, the line and the fix', () => {
  it('unknown key: nearest valid key and its line', () => {
    const f = tmpFile('bad.yaml', 'experiment: x\ntargets:\n  - model: small\n    data: {n: 10, noize_scale: 0.2}\n    seed: 1\n');
    const err = errorOf(() => loadExperiment(f));
    expect(err.message).toContain(`${f}:4`);
    expect(err.message).toContain("unknown key 'noize_scale'");
    expect(err.message).toContain("did you mean 'noise_scale'?");
    expect(err.line).toBe(4);
  });

  it('unknown top-level key of the experiment', () => {
    const f = tmpFile('bad.yaml', 'experiment: x\njax_enable_x46: true\ntargets:\n  - {model: small, data: small, seed: 1}\n');
    const err = errorOf(() => loadExperiment(f));
    expect(err.message).toMatch(/bad\.yaml:2: .*unknown key 'jax_enable_x46' \(did you mean 'jax_enable_x64'\?\)/);
  });

  it('unknown preset: lists the presets and suggests the nearest', () => {
    const f = tmpFile('bad.yaml', 'experiment: x\ntargets:\n  - {model: smal, data: small, seed: 1}\n');
    const err = errorOf(() => loadExperiment(f));
    expect(err.message).toMatch(/bad\.yaml:3: targets\.0\.model: unknown model preset 'smal'/);
    expect(err.message).toContain("did you mean 'small'?");
    expect(err.message).toContain('base, small');
  });

  it('negative n', () => {
    const f = tmpFile('bad.yaml', 'model: small\ndata: {n: -5}\nseed: 1\n');
    const err = errorOf(() => loadTargetFile(f));
    expect(err.message).toMatch(/bad\.yaml:2: data\.n: Too small/);
  });

  it('widths that do not match the depth', () => {
    const f = tmpFile('bad.yaml', 'model:\n  preset: small\n  widths: [4, 4, 4]\ndata: small\nseed: 1\n');
    const err = errorOf(() => loadTargetFile(f));
    expect(err.message).toMatch(/bad\.yaml:3: model\.widths: widths \[4,4,4\] has 3 layers but depth is 2/);
  });

  it('init: teacher with a teacher of another architecture', () => {
    const f = tmpFile('bad.yaml', 'model: small\ndata: small\nteacher: small\nseed: 1\ntraining:\n  init: teacher\n');
    const err = errorOf(() => loadTargetFile(f));
    expect(err.message).toMatch(/bad\.yaml:6: training\.init: init: teacher needs the teacher to have the student's architecture/);
  });

  it('DLN teacher rank above the narrowest layer', () => {
    const f = tmpFile('bad.yaml', 'model: {family: dln, in_dim: 5, widths: [3], out_dim: 5}\nteacher: {family: dln, rank: 4}\ndata: small\nseed: 1\n');
    expect(errorOf(() => loadTargetFile(f)).message).toMatch(/bad\.yaml:2: teacher\.rank: rank 4 exceeds the smallest layer size 3/);
  });

  it('unreadable YAML and missing files', () => {
    const f = tmpFile('bad.yaml', 'model: small\ndata: [unclosed\nseed: 1\n');
    expect(errorOf(() => loadTargetFile(f)).message).toMatch(/bad\.yaml:\d+: invalid YAML/);
    expect(errorOf(() => loadTargetFile('/nonexistent/x.yaml')).message).toMatch(/cannot read config file \(ENOENT\)/);
    const dup = tmpFile('dup.yaml', 'seed: 1\nseed: 2\nmodel: small\ndata: small\n');
    expect(errorOf(() => loadTargetFile(dup)).message).toMatch(/dup\.yaml:2: invalid YAML/);
  });

  it('errors from --set name the --set, not a line', () => {
    const err = errorOf(() => loadExperiment(SMOKE, ['targets.0.data.nn=5']));
    expect(err.message).toContain('(from --set targets.0.data.nn=5)');
    expect(err.message).toContain("did you mean 'n'?");
    expect(errorOf(() => loadExperiment(SMOKE, ['samplers.9.seed=1'])).message).toMatch(/is a list of 4/);
    expect(errorOf(() => loadExperiment(SMOKE, ['novalue'])).message).toMatch(/expected key=value/);
  });
});

describe('generic helpers', () => {
  it('parseConfigFile validates any schema with located errors', () => {
    const schema = z.strictObject({ type: z.enum(['local', 'slurm']), max_workers: z.number().int().positive().optional() });
    const f = tmpFile('card.yaml', 'type: local\nmax_worker: 4\n');
    const err = errorOf(() => parseConfigFile(f, schema));
    expect(formatConfigError(err)).toBe(`${f}:2: max_worker: unknown key 'max_worker' (did you mean 'max_workers'?)`);
    expect(parseConfigFile(f, schema.extend({ max_worker: z.number() }), ['max_workers=3'])).toEqual({ type: 'local', max_worker: 4, max_workers: 3 });
    const g = tmpFile('card.yaml', 'type: lcoal\n');
    expect(errorOf(() => parseConfigFile(g, schema)).message).toMatch(/card\.yaml:1: type: must be one of "local", "slurm"/);
  });

  it('deepMerge replaces arrays and merges objects; nearestKey refuses far-off words', () => {
    expect(deepMerge({ a: [1, 2, 3], b: { c: 1, d: 2 } }, { a: [9], b: { d: 3 } })).toEqual({ a: [9], b: { c: 1, d: 3 } });
    expect(applySets({ a: { b: 1 } }, ['a.c.d=[1, 2]', 'x=true', 'y=yes'])).toEqual({ a: { b: 1, c: { d: [1, 2] } }, x: true, y: 'yes' });
    expect(nearestKey('stesp', ['steps', 'lr'])).toBe('steps');
    expect(nearestKey('completely_different', ['steps', 'lr'])).toBeUndefined();
  });
});
