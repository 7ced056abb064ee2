import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveTargetObject, targetIdOf } from '../config/experiment.js';
import { targetDir } from '../store/index.js';
import { decodeSafetensors } from '../store/safetensors.js';
import { buildTask } from '../tasks/build.js';
import { buildTarget, isCompleteTarget, type TargetMeta } from './build.js';
import { openTarget } from './open.js';
import { describeProgress } from '../contracts/progress.js';

const home = (): string => mkdtempSync(join(tmpdir(), 'lh-targets-'));
const small = (seed: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model: 'small',
  data: { preset: 'small', n: 60 },
  teacher: '_null',
  seed,
  overrides: { training: { steps: 150 } },
  ...extra,
});
const files = (dir: string): Record<string, Buffer> =>
  Object.fromEntries(['params.safetensors', 'data.safetensors'].map((f) => [f, readFileSync(join(dir, f))]));
const meta = (dir: string): TargetMeta => JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as TargetMeta;

describe('building a target', () => {
  it('same config twice: same id, byte-identical tensors, the second build reused', async () => {
    const h1 = home();
    const h2 = home();
    const a = await buildTask({ kind: 'build', home: h1, target: resolveTargetObject(small(42)) }, { impl: 'ts' });
    expect(a.reused).toBe(false);
    expect(a.target_id).toMatch(/^tgt_[0-9a-f]{12}$/);
    expect(a.dir).toBe(targetDir(h1, a.target_id));
    const again = await buildTask({ kind: 'build', home: h1, target: resolveTargetObject(small(42)) }, { impl: 'ts' });
    expect(again).toEqual({ ...a, reused: true });
    // A fresh store rebuilds from scratch and gets the same bytes.
    const b = await buildTask({ kind: 'build', home: h2, target: resolveTargetObject(small(42)) }, { impl: 'ts' });
    expect(b.target_id).toBe(a.target_id);
    expect(b.reused).toBe(false);
    expect(files(b.dir)).toEqual(files(a.dir));
    const c = await buildTask({ kind: 'build', home: h1, target: resolveTargetObject(small(43)) }, { impl: 'ts' });
    expect(c.target_id).not.toBe(a.target_id);
    expect(files(c.dir)['data.safetensors']).not.toEqual(files(a.dir)['data.safetensors']);
  });

  it('writes the file contract: meta.json fields, layer tensors [out,in]/[out], X [n,in], Y [n,out]', async () => {
    const h = home();
    const cfg = resolveTargetObject(small(7, { overrides: { training: { steps: 150, polish: false } } }));
    const r = await buildTarget(h, cfg, { impl: 'ts' });
    const m = meta(r.dir);
    expect(m.target_id).toBe(targetIdOf(cfg));
    expect(m.config).toEqual(cfg);
    expect(m.dims).toEqual({ n: 60, in_dim: 4, out_dim: 1, p: 45 });
    expect(m.dtype).toBe('float64');
    expect(typeof m.created_at).toBe('string');
    expect(typeof m.code_version).toBe('string');
    expect(m.training.steps_run).toBe(150);
    expect(m.training.loss_curve!.step.at(-1)).toBe(150);
    expect(m.warnings[0]).toMatch(/^training ended with gradient norm .* after 150 steps: w\* is not a critical point/);
    const p = decodeSafetensors(readFileSync(join(r.dir, 'params.safetensors')));
    expect(Object.fromEntries(Object.entries(p.tensors).map(([k, t]) => [k, t.shape]))).toEqual({
      'layers.0.weight': [4, 4], 'layers.0.bias': [4],
      'layers.1.weight': [4, 4], 'layers.1.bias': [4],
      'layers.2.weight': [1, 4], 'layers.2.bias': [1],
    });
    const d = decodeSafetensors(readFileSync(join(r.dir, 'data.safetensors')));
    expect(d.tensors.X!.shape).toEqual([60, 4]);
    expect(d.tensors.Y!.shape).toEqual([60, 1]);
    expect(d.tensors.X!.dtype).toBe('F64');
    // openTarget sees the same w* and L0 = L_n(w*).
    const t = openTarget(h, r.target_id, { impl: 'ts' });
    expect(t.dim).toBe(45);
    expect(t.n).toBe(60);
    expect(t.L0).toBe(m.L0);
    expect(t.loss.loss(t.wStar)).toBe(t.L0);
    expect(Array.from(t.wStar.subarray(0, 16))).toEqual(Array.from(p.tensors['layers.0.weight']!.data));
    t.dispose();
  });

  it('training reduces the loss and reaches a small gradient norm', async () => {
    const h = home();
    const cfg = resolveTargetObject({
      model: { preset: 'small', activation: 'tanh' },
      data: 'small',
      seed: 3,
      training: { lr: 0.01, steps: 3000 },
    });
    const r = await buildTarget(h, cfg, { impl: 'ts' });
    const m = meta(r.dir);
    expect(m.training.final_loss).toBeLessThan(0.05 * m.training.initial_loss!);
    // Loss scale ~1 and 45 parameters: 1e-3 is a gradient norm Adam reaches here in 3000 steps.
    expect(m.training.final_grad_norm).toBeLessThan(1e-3);
    expect(m.L0).toBe(m.training.final_loss);
    expect(m.warnings).toEqual([]);
  });

  it('the L-BFGS polish takes a short Adam run to a critical point, and says so in meta.json and the progress', async () => {
    const h = home();
    const events: string[] = [];
    // tanh: a smooth loss, so a critical point exists to converge to (a relu loss has kinks).
    // n = 1000 >> d = 45: a well-determined minimum that 300 Adam steps have not reached.
    const entry = (polish?: false): Record<string, unknown> => small(7, {
      model: { preset: 'small', activation: 'tanh', init: 'he' },
      data: { preset: 'small', n: 1000 },
      overrides: { training: { lr: 0.01, steps: 300, ...(polish === false ? { polish } : {}) } },
    });
    const cfg = resolveTargetObject(entry());
    expect(cfg.training).toMatchObject({ polish: { steps: 1000, tol: 1e-4 } });
    const r = await buildTarget(h, cfg, { impl: 'ts', onProgress: (e) => events.push(describeProgress(e)) });
    const m = meta(r.dir);
    const bare = await buildTarget(h, resolveTargetObject(entry(false)), { impl: 'ts' });
    const unpolished = meta(bare.dir);
    expect(bare.target_id).not.toBe(r.target_id);
    // The polish starts where Adam stopped...
    expect(m.training.polish!.grad_norm_before).toBe(unpolished.training.final_grad_norm);
    expect(m.training.polish!.loss_before).toBe(unpolished.training.final_loss);
    expect(m.training.polish!.grad_norm_before).toBeGreaterThan(1e-3);
    // ...and ends below its tolerance, lower in loss, with no "not a critical point" warning.
    expect(m.training.polish!.stopped).toBe('converged');
    expect(m.training.final_grad_norm).toBeLessThanOrEqual(1e-4);
    expect(m.training.final_loss).toBeLessThan(unpolished.training.final_loss);
    expect(m.L0).toBe(m.training.final_loss);
    expect(m.warnings).toEqual([]);
    expect(unpolished.warnings).toHaveLength(1);
    expect(events.at(-1)).toMatch(/^polishing w\* \(L-BFGS\) iteration \d+\/1000, loss .*\|grad\| /);
  });

  it('stops early when the loss has flattened, after the minimum step', async () => {
    const h = home();
    const cfg = resolveTargetObject({
      model: { preset: 'small', init: 'he' }, data: 'small', seed: 3,
      training: { lr: 0.01, steps: 5000, early_stop: { window: 20, tol: 1e-6, after: 100 } },
    });
    const m = meta((await buildTarget(h, cfg, { impl: 'ts' })).dir);
    expect(m.training.early_stopped).toBe(true);
    expect(m.training.steps_run).toBeGreaterThan(100);
    expect(m.training.steps_run).toBeLessThan(5000);
  });

  it('float32 targets store F32 tensors that are exactly the trained values', async () => {
    const h = home();
    const r = await buildTask({ kind: 'build', home: h, target: resolveTargetObject(small(5, { dtype: 'float32' })) }, { impl: 'ts' });
    const p = decodeSafetensors(readFileSync(join(r.dir, 'params.safetensors')));
    expect(p.tensors['layers.0.weight']!.dtype).toBe('F32');
    const t = openTarget(h, r.target_id, { impl: 'ts' });
    expect(t.dtype).toBe('float32');
    expect(t.wStar.every((v) => Math.fround(v) === v)).toBe(true);
    expect(r.target_id).not.toBe(targetIdOf(resolveTargetObject(small(5))));
  });

  it('DLN with init: teacher takes w* = teacher parameters; noise-free labels give L0 = 0', async () => {
    const h = home();
    const r = await buildTask({
      kind: 'build',
      home: h,
      target: resolveTargetObject({
        model: { family: 'dln', in_dim: 5, widths: [3], out_dim: 5 },
        teacher: { family: 'dln', rank: 1 },
        data: { n: 50, noise_scale: 0 },
        training: { init: 'teacher' },
        seed: 2,
      }),
    }, { impl: 'ts' });
    const t = openTarget(h, r.target_id, { impl: 'ts' });
    expect(t.dim).toBe(5 * 3 + 3 * 5);
    expect(t.L0).toBeLessThan(1e-28);
    expect(t.meta.training.init).toBe('teacher');
    expect(t.meta.training.final_grad_norm).toBeLessThan(1e-12);
    t.dispose();
  });

  it('quadratic target: L = 0.5 |w - w*|^2, n from the data config', async () => {
    const h = home();
    const r = await buildTask({ kind: 'build', home: h, target: resolveTargetObject({ model: { family: 'quadratic', dim: 6 }, data: { n: 1000 }, seed: 8 }) });
    const t = openTarget(h, r.target_id);
    expect(t.dim).toBe(6);
    expect(t.n).toBe(1000);
    expect(t.L0).toBe(0);
    const w = Float64Array.from(t.wStar, (v) => v + 1);
    const g = new Float64Array(6);
    expect(t.loss.lossAndGrad(w, g)).toBeCloseTo(3, 12);
    for (const v of g) expect(v).toBeCloseTo(1, 12);
    expect(readdirSync(r.dir).sort()).toEqual(['data.safetensors', 'meta.json', 'params.safetensors']);
  });
});

describe('concurrent builds and other losses', () => {
  it('two builders of one target: one writes it, the other reuses it, nothing half-written', async () => {
    const h = home();
    const cfg = resolveTargetObject(small(77));
    const [a, b] = await Promise.all([buildTarget(h, cfg, { impl: 'ts' }), buildTarget(h, cfg, { impl: 'ts' })]);
    expect([a.reused, b.reused].sort()).toEqual([false, true]);
    expect(readdirSync(join(h, 'targets'))).toEqual([a.target_id]);
  });

  it('a t_regression target trains with the Student-t loss and openTarget uses it', async () => {
    const h = home();
    const r = await buildTask({
      kind: 'build', home: h,
      target: resolveTargetObject(small(3, { training: { loss: 't_regression', loss_nu: 3, loss_sigma: 0.5 }, data: { preset: 'small', n: 60, noise_model: 'student_t', student_df: 3 } })),
    }, { impl: 'ts' });
    const t = openTarget(h, r.target_id, { impl: 'ts' });
    expect((t.loss as unknown as { lossSpec: unknown }).lossSpec).toEqual({ kind: 'student_t', nu: 3, sigma: 0.5 });
    expect(t.meta.config.data).toMatchObject({ noise_model: 'student_t', noise_df: 3 });
    t.dispose();
  });
});

describe('interrupted and incomplete targets', () => {
  it('a build that crashes mid-way leaves no target and no temp directory', async () => {
    const h = home();
    const cfg = resolveTargetObject({ model: 'small', data: 'small', seed: 1, training: { steps: 5000 } });
    let calls = 0;
    await expect(buildTarget(h, cfg, {
      impl: 'ts',
      now: () => calls++ * 1000, // every step is "0.5 s later", so progress is reported at once
      onProgress: () => {
        throw new Error('simulated crash');
      },
    })).rejects.toThrow('simulated crash');
    const id = targetIdOf(cfg);
    expect(existsSync(targetDir(h, id))).toBe(false);
    expect(() => openTarget(h, id)).toThrow(/not found: no directory .*build it first/);
  });

  it('a partial temp directory is never taken as done; a partial final directory is rebuilt', async () => {
    const h = home();
    const cfg = resolveTargetObject(small(21));
    const id = targetIdOf(cfg);
    const dir = targetDir(h, id);
    // What a killed process leaves: a temp sibling with some files.
    mkdirSync(`${dir}.tmp-99999-abcdef`, { recursive: true });
    writeFileSync(`${dir}.tmp-99999-abcdef/params.safetensors`, 'partial');
    expect(isCompleteTarget(dir, id)).toBe(false);
    expect(() => openTarget(h, id)).toThrow(/not found/);
    const r = await buildTarget(h, cfg, { impl: 'ts' });
    expect(r.reused).toBe(false);
    expect(isCompleteTarget(dir, id)).toBe(true);
    // A final directory missing a file (e.g. copied by hand): reported, then rebuilt.
    rmSync(join(dir, 'data.safetensors'));
    expect(() => openTarget(h, id)).toThrow(new RegExp(`${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is incomplete \\(missing data.safetensors\\)`));
    const again = await buildTarget(h, cfg, { impl: 'ts' });
    expect(again.reused).toBe(false);
    expect(isCompleteTarget(dir, id)).toBe(true);
    const t = openTarget(h, id, { impl: 'ts' });
    expect(t.n).toBe(60);
    t.dispose();
  });
});
