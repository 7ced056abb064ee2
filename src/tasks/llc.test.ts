// `llc` on networks written as PyTorch writes them: the known learning coefficients of a
// logistic regression at its MLE and of a deep linear network restricted to one layer (default
// SGLD), one row per module with --per-layer, and bad inputs that fail before the store is
// touched. Tolerance: the issue's 10% of the exact value plus 3 MCSE for the chains' own noise.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { llcFromFiles } from './llc.js';
import { logisticCase, restrictedDlnCase } from '../validate/own-models.js';
import { npyBytes, npzBytes, torchSafetensors } from '../io/testing/python-bytes.js';
import { perLayerTable } from '../cli/llc.js';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/cli.ts');
const TSX = createRequire(import.meta.url).resolve('tsx');

const root = mkdtempSync(join(tmpdir(), 'lh-llc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const sgld = { name: 'sgld', seed: 0 };

describe('llc of networks trained elsewhere', () => {
  it('multinomial logistic regression at its MLE: (K - 1)(d + 1) / 2', async () => {
    const c = logisticCase(join(root, 'logistic'), 1, 1);
    expect(c.gradNorm).toBeLessThan(1e-10);
    const out = await llcFromFiles({ home: join(root, 'store'), model: c.model, data: c.data, sampler: sgld });
    expect(out.notes.join('\n')).toMatch(/loss cross_entropy \(inferred from the integer labels/);
    const a = out.rows[0]!.analysis;
    expect(a.llc_mcse).not.toBeNull();
    expect(Math.abs(a.llc_mean! - c.truth), `${c.name}: ${a.llc_mean} vs ${c.truth}`).toBeLessThan(0.1 * c.truth + 3 * a.llc_mcse!);
  }, 120_000);

  it('a deep linear network restricted to one layer: rank(A) rank(B) / 2', async () => {
    const c = restrictedDlnCase(join(root, 'dln'), 1, 3);
    const out = await llcFromFiles({ home: join(root, 'store'), model: c.model, data: c.data, activation: 'identity', restrict: c.restrict!, sampler: sgld });
    const row = out.rows[0]!;
    expect(out.notes.join('\n')).toMatch(/loss mse \(inferred from the real-valued targets/);
    expect(row.params).toBe(c.d);
    expect(row.trust).not.toMatch(/w\* not a minimum/);
    const a = row.analysis;
    expect(Math.abs(a.llc_mean! - c.truth), `${c.name}: ${a.llc_mean} vs ${c.truth}`).toBeLessThan(0.1 * c.truth + 3 * a.llc_mcse!);
  }, 120_000);

  it('--per-layer: one row per module, named as in the file', async () => {
    const dir = join(root, 'mlp');
    const c = restrictedDlnCase(dir, 2, 0);
    const out = await llcFromFiles({
      home: join(root, 'store'),
      model: c.model,
      data: c.data,
      activation: 'identity',
      perLayer: true,
      sampler: { ...sgld, overrides: { steps: 600, warmup: 200, eval_every: 10 } },
    });
    const modules = out.rows.map((r) => r.module);
    expect(modules).toEqual(modules.map((_, i) => String(i)));
    expect(modules.length).toBeGreaterThanOrEqual(2);
    expect(new Set(out.rows.map((r) => r.run_dir)).size).toBe(modules.length);
    for (const r of out.rows) expect(Number.isFinite(r.analysis.llc_mean)).toBe(true);
    const table = perLayerTable(out.rows).split('\n');
    expect(table[0]).toMatch(/^module\s+params\s+λ̂ ± MCSE\s+R-hat\s+ESS\s+trust$/);
    expect(table.filter((l) => /^\d+\s/.test(l))).toHaveLength(modules.length);
  }, 120_000);

  it('the command: --per-layer --json prints one row per module with the analysis keys; a bad file exits 1 naming it', () => {
    const c = restrictedDlnCase(join(root, 'cli'), 4, 1);
    const home = join(root, 'cli-store');
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', TSX, CLI, 'llc', '--model', c.model, '--data', c.data, ...args], {
        env: { ...process.env, LAMBDA_HAT_HOME: home },
        encoding: 'utf8',
      });
    const r = cli('--activation', 'identity', '--per-layer', '--json', '--set', 'steps=400', '--set', 'warmup=100', '--set', 'eval_every=10');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/loss mse \(inferred from the real-valued targets/);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(rows.map((x) => x.module)).toEqual(rows.map((_, i) => String(i)));
    for (const row of rows) for (const k of ['llc_mean', 'llc_mcse', 'r_hat', 'ess_bulk', 'warnings', 'target_id', 'params', 'trust']) expect(row).toHaveProperty(k);
    const bad = cli('--layers', 'a,b');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/model\.safetensors: tensors 0\.weight.* belong to none of the layers a, b/);
  }, 120_000);

  it('bad inputs fail naming the file and tensor, and write nothing to the store', async () => {
    const home = join(root, 'untouched');
    const X = Array.from({ length: 12 }, (_, i) => (i % 5) / 4 - 0.5);
    const good = {
      '0.weight': { dtype: 'F32' as const, shape: [3, 3], values: new Array(9).fill(0.25) },
      '0.bias': { dtype: 'F32' as const, shape: [3], values: [0, 0, 0] },
    };
    const model = join(root, 'm.safetensors');
    writeFileSync(model, torchSafetensors(good));
    const data = (name: string, y: number[], x = X, rows = 4, cols = 3): string => {
      const p = join(root, name);
      writeFileSync(p, npzBytes({ X: npyBytes('<f8', [rows, cols], x), y: npyBytes('<i8', [y.length], y) }));
      return p;
    };
    const run = (m: string, d: string, extra: object = {}) => llcFromFiles({ home, model: m, data: d, sampler: sgld, ...extra });
    await expect(run(model, data('range.npz', [0, 1, 3, 2]))).rejects.toThrow(/range\.npz: y: label 3 at row 2 is out of range: the network's last layer 0\.bias scores 3 classes/);
    await expect(run(model, data('cols.npz', [0, 1, 2, 2], new Array(16).fill(0), 4, 4))).rejects.toThrow(/cols\.npz: X has 4 features but .*m\.safetensors: tensor 0\.weight takes 3 inputs/);
    await expect(run(model, data('ok.npz', [0, 1, 2, 2]), { restrict: ['5'] })).rejects.toThrow(/--restrict: '5' matches no tensor; the network's tensors are 0\.weight, 0\.bias/);
    await expect(run(model, data('ok2.npz', [0, 1, 2, 2]), { loss: 'mse' })).rejects.toThrow(/ok2\.npz: y holds one integer per row but the network has 3 outputs/);
    const bad = join(root, 'bad.safetensors');
    writeFileSync(bad, torchSafetensors({ ...good, '0.bias': { dtype: 'F32', shape: [3], values: [0, Infinity, 0] } }));
    await expect(run(bad, data('ok3.npz', [0, 1, 2, 2]))).rejects.toThrow(/bad\.safetensors: tensor 0\.bias holds Infinity/);
    expect(existsSync(home) ? readdirSync(home) : []).toEqual([]);
  });
});
