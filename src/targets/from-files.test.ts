// Model files in experiment files: `model: {file}` and `data: {file}` (paths relative to the
// experiment file) resolve to a file target at plan time, with a restriction in `posterior`;
// a bad file is an error naming the experiment file's line and the model file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadExperiment } from '../config/experiment.js';
import { logisticCase } from '../validate/own-models.js';
import { buildTarget } from './build.js';
import { openTarget } from './open.js';
import { describeTarget } from '../workflow/results.js';

const dir = mkdtempSync(join(tmpdir(), 'lh-filetarget-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('model files in experiment files', () => {
  it('resolve to a file target whose build reproduces the file weights and the loss', async () => {
    logisticCase(join(dir, 'nets'), 3, 0);
    const exp = join(dir, 'exp.yaml');
    writeFileSync(
      exp,
      [
        'experiment: own',
        'targets:',
        '  - {model: {file: nets/model.safetensors, activation: identity}, data: {file: nets/data.npz}, seed: 0, posterior: {restrict: ["0.weight"]}}',
        'samplers:',
        '  - {name: sgld, seed: 1}',
        '',
      ].join('\n'),
    );
    const e = loadExperiment(exp);
    const t = e.targets[0]!;
    expect(t.config.training?.init).toBe('file');
    expect(t.config.training?.loss).toEqual({ kind: 'cross_entropy' });
    expect(t.posterior).toEqual({ restrict: ['0.weight'] });
    const built = await buildTarget(join(dir, 'store'), t.config);
    const opened = openTarget(join(dir, 'store'), built.target_id);
    try {
      // The tables name a file network by its file.
      expect(describeTarget(opened.meta)).toMatch(/^MLP [\d-]+ identity \(model\.safetensors\)$/);
      expect(opened.meta.training.init).toBe('file');
      expect(opened.meta.training.final_grad_norm).toBeLessThan(1e-5);
      expect(opened.L0).toBeCloseTo(opened.meta.L0, 12);
    } finally {
      opened.dispose();
    }
    writeFileSync(exp, 'experiment: own\ntargets:\n  - {model: {file: nets/missing.safetensors}, data: {file: nets/data.npz}, seed: 0}\nsamplers:\n  - {name: sgld, seed: 1}\n');
    expect(() => loadExperiment(exp)).toThrow(/exp\.yaml:3: targets\.0\.model\.file: .*missing\.safetensors: cannot read the model file \(ENOENT\)/);
  });
});
