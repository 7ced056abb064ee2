/**
 * Against a real SLURM controller (`npm test` starts one with scripts/slurm/start.sh when it
 * can); each test is skipped, with the reason as its note, when `sinfo` does not work here.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { SlurmExecutor, slurmAvailable } from '../../src/executors/slurm.js';
import { mod, tmpRun } from './helpers.js';

const avail = await slurmAvailable();

describe('slurm executor', () => {
  beforeEach((ctx) => {
    if (!avail.ok) ctx.skip(`no SLURM cluster: ${avail.reason}`);
  });

  it('runs tasks as sbatch jobs and surfaces failures with job id, state, exit code and log', async () => {
    const { dirs } = tmpRun('lh-slurm-');
    const ex = new SlurmExecutor({ maxWorkers: 8, dirs, workerInit: 'export LH_INIT=slurm-init', slurm: { mem_per_node: 0.25 }, pollMs: 150 });
    const [ok, env, thrown, exited, simd] = await Promise.all([
      ex.run({ key: 'ok', spec: mod('echo', { a: 1 }) }),
      ex.run({ key: 'env', spec: mod('envOf', 'LH_INIT') }),
      ex.run({ key: 'thrown', spec: mod('fail', 'boom') }),
      ex.run({ key: 'exited', spec: mod('exitWith', 3) }),
      ex.run({ key: 'simd', spec: mod('relaxedSimd') }),
    ]);
    // The job's entry point switched relaxed SIMD on: it runs the same kernels as the CLI.
    expect(simd).toMatchObject({ ok: true, result: { relaxed: true } });
    expect(ok).toMatchObject({ ok: true, result: { echo: { a: 1 } } });
    expect(ok.ok && ok.job_id).toMatch(/^\d+$/);
    expect(env).toMatchObject({ ok: true, result: { value: 'slurm-init' } });
    expect(thrown).toMatchObject({ ok: false, error: { kind: 'task_error', message: 'boom' } });
    expect(exited).toMatchObject({
      ok: false,
      error: { kind: 'slurm_failed', exit_code: 3, stderr_tail: 'about to exit with 3', log_path: join(dirs.logsDir, 'exited.err') },
    });
    expect(exited.ok ? '' : exited.error.message).toMatch(/^job \d+ ended FAILED .*exit code 3:0/);
    expect(readFileSync(join(dirs.tasksDir, 'ok.sbatch'), 'utf8')).toContain('#SBATCH --mem=256M');
    await ex.close();
  });

  it('reports a job cancelled outside the workflow as CANCELLED, and cancel() scancels its jobs', async () => {
    const { root, dirs } = tmpRun('lh-slurm-');
    const ex = new SlurmExecutor({ maxWorkers: 8, dirs, pollMs: 150 });
    const marker = join(root, 'started');
    const outside = ex.run({ key: 'outside', spec: mod('sleepFor', 120_000, marker) });
    const t0 = Date.now();
    while (!existsSync(marker) && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 100));
    const id = execFileSync('squeue', ['-h', '-n', `lh-outside`, '-o', '%i']).toString().trim().split('\n').pop()!;
    execFileSync('scancel', [id]);
    const o = await outside;
    expect(o).toMatchObject({ ok: false, error: { kind: 'cancelled', job_id: id } });
    expect(o.ok ? '' : o.error.message).toMatch(new RegExp(`job ${id} ended CANCELLED`));

    const inside = [1, 2].map((i) => ex.run({ key: `inside${i}`, spec: mod('sleepFor', 120_000) }));
    await new Promise((r) => setTimeout(r, 1000));
    await ex.cancel();
    const outs = await Promise.all(inside);
    for (const x of outs) expect(x).toMatchObject({ ok: false, error: { kind: 'cancelled' } });
    const left = execFileSync('squeue', ['-h', '-n', 'lh-inside1,lh-inside2', '-t', 'pending,running', '-o', '%i']).toString().trim();
    expect(left).toBe('');
  });
});
