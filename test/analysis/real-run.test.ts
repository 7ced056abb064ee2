// Diagnose and report on a real run: a quadratic target built and sampled by the project's own
// build and sample tasks (not a synthetic trace), whose exact λ̂ is known.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveTargetObject } from '../../src/config/experiment.js';
import { buildTarget } from '../../src/targets/build.js';
import { sampleTask } from '../../src/tasks/sample.js';
import { diagnoseTask } from '../../src/tasks/diagnose.js';
import { writeReport } from '../../src/report/index.js';
import { quadraticPosteriorLambda } from '../../src/posterior/truth.js';

const home = mkdtempSync(join(tmpdir(), 'lh-real-run-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('diagnose a real HMC run', () => {
  it('writes analysis.json consistent with the manifest and traces, and the report finds the truth', async () => {
    const built = await buildTarget(home, resolveTargetObject({ model: { family: 'quadratic', dim: 6 }, data: { n: 1000 }, seed: 2 }));
    const run = await sampleTask({
      kind: 'sample',
      home,
      target_id: built.target_id,
      sampler: { name: 'hmc', seed: 5, overrides: { draws: 300, warmup: 100, num_integration_steps: 5 }, chains: { count: 4 } },
    });
    const res = await diagnoseTask({ kind: 'diagnose', run_dir: run.dir });
    expect(res.reused).toBe(false);
    const text = readFileSync(join(run.dir, 'analysis.json'), 'utf8');
    expect(text).not.toMatch(/NaN|Infinity/);
    const a = JSON.parse(text);
    const m = JSON.parse(readFileSync(join(run.dir, 'manifest.json'), 'utf8'));
    expect(a.target_id).toBe(built.target_id);
    expect(a.sampler).toBe('hmc');
    expect(a.chains).toBe(4);
    expect(a.draws).toBe(300);
    expect(a.n).toBe(m.n);
    expect(a.beta).toBe(m.beta);
    expect(a.gamma).toBe(m.gamma);
    expect(a.L0).toBe(m.L0);
    expect(a.total_fge).toBe(m.total_fge);
    expect(a.walltime_s).toBe(m.timings.wall_s);
    expect(a.plots).toContain('plots/energy.svg');
    // HMC samples the Gaussian posterior exactly: λ̂ lands within a few MCSE of the exact value.
    const truth = quadraticPosteriorLambda({ d: 6, n: m.n, beta: m.beta, gamma: m.gamma });
    expect(Math.abs(a.llc_mean - truth)).toBeLessThan(5 * a.llc_mcse);
    expect(a.r_hat).toBeLessThan(1.05);

    const report = await writeReport({ runDirs: [run.dir], outDir: join(home, 'report'), title: 'real run' });
    expect(report.rows).toHaveLength(1);
    expect(report.rows[0]!.truth!.value).toBeCloseTo(truth, 12);
    expect(report.rows[0]!.analysis!.llc_mean).toBe(a.llc_mean);
  }, 60_000);
});
