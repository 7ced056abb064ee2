// End-to-end sample task on a quadratic target built in a temporary store: files, manifest
// contract, reuse of a finished run, and clear errors.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveTargetObject } from '../config/experiment.js';
import { buildTarget } from '../targets/build.js';
import { readTraces } from '../store/traces.js';
import { defaultEngine } from '../engine/index.js';
import { buildTask } from './build.js';
import { sampleTask } from './sample.js';

const home = mkdtempSync(join(tmpdir(), 'lh-sample-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('sampleTask', () => {
  it('writes manifest.json and traces.feather, then reuses the finished run', async () => {
    const built = await buildTarget(home, resolveTargetObject({ model: { family: 'quadratic', dim: 6 }, data: { n: 1000 }, seed: 1 }));
    const spec = {
      kind: 'sample' as const,
      home,
      target_id: built.target_id,
      sampler: { name: 'sgld', seed: 4, overrides: { steps: 400, warmup: 100, eval_every: 10, calibration_steps: 60, calibration_rounds: 2 }, chains: { count: 2 } },
    };
    const first = await sampleTask(spec);
    expect(first.reused).toBe(false);
    expect(first.run_id).toMatch(/^run_[0-9a-f]{12}$/);
    const manifest = JSON.parse(readFileSync(join(first.dir, 'manifest.json'), 'utf8'));
    expect(manifest.target_id).toBe(built.target_id);
    expect(manifest.sampler).toBe('sgld');
    expect(manifest.chains).toBe(2);
    expect(manifest.burn_in).toBe(100);
    expect(manifest.per_chain).toHaveLength(2);
    expect(manifest.per_chain[0].tuned.step_size).toBeGreaterThan(0);
    expect(manifest.total_fge).toBeGreaterThan(manifest.work.sample_fge);
    expect(manifest.beta).toBeCloseTo(1 / Math.log(manifest.n), 12);
    // An analytic target has no engine behind its numbers.
    expect(manifest.engine).toBeNull();
    const traces = readTraces(join(first.dir, 'traces.feather'));
    for (const col of ['chain', 'draw', 'step', 'Ln', 'llc', 'cumulative_fge', 'time_s', 'step_size']) expect(traces[col], col).toBeDefined();
    expect(traces.llc!.length).toBe(2 * 30);
    expect(traces.step![0]).toBe(110);
    const again = await sampleTask(spec);
    expect(again).toMatchObject({ run_id: first.run_id, dir: first.dir, reused: true });
    // Same run through the alias and a different thread count: same id.
    const viaThreads = await sampleTask({ ...spec, sampler: { ...spec.sampler, chains: { count: 2, threads: 2 } } });
    expect(viaThreads.run_id).toBe(first.run_id);
  }, 60_000);

  it('records which engine and kernel build computed a network target\'s numbers', async () => {
    const built = await buildTask(
      { kind: 'build', home, target: resolveTargetObject({ model: 'small', data: { preset: 'small', n: 60 }, teacher: '_null', seed: 3, overrides: { training: { steps: 30 } } }) },
      { impl: 'ts' },
    );
    const sampler = (seed: number) => ({
      name: 'sgld',
      seed,
      overrides: { steps: 40, warmup: 10, eval_every: 10, calibration_steps: 20, calibration_rounds: 1 },
      chains: { count: 1 },
    });
    const manifestOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { engine: unknown };
    const forced = await sampleTask({ kind: 'sample', home, target_id: built.target_id, sampler: sampler(1) }, { impl: 'ts' });
    expect(manifestOf(forced.dir).engine).toEqual({ impl: 'ts', kernels: 'ts' });
    const chosen = await sampleTask({ kind: 'sample', home, target_id: built.target_id, sampler: sampler(2) });
    const { impl, kernels } = defaultEngine();
    expect(manifestOf(chosen.dir).engine).toEqual({ impl, kernels });
  }, 60_000);

  it('names a missing target and an unknown sampler', async () => {
    await expect(sampleTask({ kind: 'sample', home, target_id: 'tgt_000000000000', sampler: { name: 'sgld', seed: 0 } })).rejects.toThrow(/target tgt_000000000000 does not exist/);
    await expect(sampleTask({ kind: 'sample', home, target_id: 'tgt_000000000000', sampler: { name: 'nuts', seed: 0 } })).rejects.toThrow(/unknown sampler "nuts"; valid samplers/);
  });
});
