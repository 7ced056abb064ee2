import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadExperiment, resolveTargetObject, targetIdOf } from '../config/experiment.js';
import { layerLayout } from '../engine/spec.js';
import { generateData } from './data.js';
import { initParams, studentSpec } from './networks.js';
import { keyAt, Stream } from '../rng/index.js';

const entry = (init?: string): Record<string, unknown> => ({
  model: init === undefined ? 'base' : { preset: 'base', init },
  data: { preset: 'base', n: 2000 },
  teacher: '_null',
  seed: 43,
});

describe('model init', () => {
  it('the Python presets build with uniform (as the Python system does); he is recorded only by its absence', () => {
    const dflt = resolveTargetObject(entry());
    const he = resolveTargetObject(entry('he'));
    const uni = resolveTargetObject(entry('uniform'));
    expect(dflt.model).toMatchObject({ init: 'uniform' });
    expect(targetIdOf(uni)).toBe(targetIdOf(dflt));
    expect(he.model).not.toHaveProperty('init');
    expect(targetIdOf(he)).not.toBe(targetIdOf(dflt));
    // An inline model without init is He, and its resolved config (and id) has no init key.
    const inline = resolveTargetObject({ ...entry(), model: { in_dim: 32, out_dim: 1, widths: [62, 62, 62], activation: 'relu' } });
    expect(inline.model).not.toHaveProperty('init');
    expect(targetIdOf(inline)).toBe(targetIdOf(he));
  });

  it('uniform: weights and biases in +-1/sqrt(fan_in) with the uniform variance lim^2 / 3', () => {
    const spec = studentSpec(resolveTargetObject(entry('uniform')).model)!;
    const theta = initParams(spec, keyAt(1, Stream.init), 'uniform');
    for (const L of layerLayout(spec)) {
      const lim = 1 / Math.sqrt(L.fanIn);
      const w = theta.subarray(L.wOff, L.wOff + L.fanIn * L.fanOut);
      const b = theta.subarray(L.bOff, L.bOff + L.fanOut);
      for (const x of [...w, ...b]) expect(Math.abs(x)).toBeLessThanOrEqual(lim);
      const v = w.reduce((s, x) => s + x * x, 0) / w.length;
      // Relative sd of a mean of m squares of U(-1,1) is ~ 1.12 / sqrt(m): 5 of them.
      if (w.length >= 1000) expect(Math.abs(v / (lim * lim / 3) - 1)).toBeLessThan(5 * 1.12 / Math.sqrt(w.length));
      expect(b.some((x) => x !== 0)).toBe(true);
    }
  });

  it('the teacher follows the init: the base teacher signal is ~10^3 times weaker under uniform than he', () => {
    const varOf = (init?: string): number => {
      const d = generateData(resolveTargetObject(entry(init)));
      const m = d.Yclean.reduce((s, x) => s + x, 0) / d.n;
      return d.Yclean.reduce((s, x) => s + (x - m) ** 2, 0) / d.n;
    };
    const vHe = varOf('he');
    const vUni = varOf();
    // He keeps the signal's scale through the relu layers (var ~ 1); uniform shrinks it ~6x per
    // layer (the Python system's base teacher: var ~ 1e-3, below its noise variance 0.01).
    expect(vHe).toBeGreaterThan(0.1);
    expect(vUni).toBeLessThan(0.01);
  });

  it('an experiment file sets it in a target override (a Python file\'s init: he is read as he)', () => {
    const f = join(mkdtempSync(join(tmpdir(), 'lh-init-')), 'exp.yaml');
    writeFileSync(f, 'experiment: i\ntargets:\n  - {model: base, data: base, teacher: _null, seed: 43}\n'
      + '  - {model: base, data: base, teacher: _null, seed: 43, overrides: {model: {init: he}}}\nsamplers:\n  - {name: hmc}\n');
    const exp = loadExperiment(f);
    expect(exp.targets[0]!.config.model).toMatchObject({ init: 'uniform' });
    expect(exp.targets[1]!.config.model).not.toHaveProperty('init');
    // The override's he is noted (it differs from what the Python system built); the preset's uniform is not.
    expect(exp.origin!.log.notes.filter((n) => n.key.endsWith('init')).map((n) => n.key)).toEqual(['targets.1.overrides.model.init']);
  });
});
