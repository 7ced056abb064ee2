import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProcessExecutor } from '../../src/executors/processes.js';
import { ThreadExecutor } from '../../src/executors/threads.js';
import { FIXTURE, mod, tmpRun } from './helpers.js';

describe('process executor', () => {
  it('runs each task in a fresh process with worker_init applied; failures are structured and the pool goes on', async () => {
    const { dirs } = tmpRun();
    const ex = new ProcessExecutor({ maxWorkers: 2, dirs, workerInit: 'export LH_INIT="from worker_init"\ncd /' });
    const [ok, env, thrown, exited, killed, chatty, after, simd] = await Promise.all([
      ex.run({ key: 'ok', spec: mod('echo', { a: 1 }) }),
      ex.run({ key: 'env', spec: mod('envOf', 'LH_INIT') }),
      ex.run({ key: 'thrown', spec: mod('fail', 'boom') }),
      ex.run({ key: 'exited', spec: mod('exitWith', 3) }),
      ex.run({ key: 'killed', spec: mod('killSelf', 'SIGKILL') }),
      ex.run({ key: 'chatty', spec: mod('chatty', ['hello', 'world']) }),
      ex.run({ key: 'after', spec: mod('echo', 'still here') }),
      ex.run({ key: 'simd', spec: mod('relaxedSimd') }),
    ]);
    expect(ok).toMatchObject({ ok: true, result: { echo: { a: 1 } } });
    // The child's entry point switched relaxed SIMD on: it runs the same kernels as the CLI.
    expect(simd).toMatchObject({ ok: true, result: { relaxed: true } });
    expect(env).toMatchObject({ ok: true, result: { value: 'from worker_init' } });
    // The coordinator's own environment is never written.
    expect(process.env.LH_INIT).toBeUndefined();
    const pids = [ok, env, after].map((o) => (o.ok ? (o.result as { pid: number }).pid : 0));
    expect(new Set(pids).size).toBe(3);
    expect(pids).not.toContain(process.pid);
    expect(thrown).toMatchObject({ ok: false, error: { kind: 'task_error', message: 'boom', exit_code: 1 } });
    expect(exited).toMatchObject({ ok: false, error: { kind: 'crashed', exit_code: 3, stderr_tail: 'about to exit with 3' } });
    expect(killed).toMatchObject({ ok: false, error: { kind: 'crashed', signal: 'SIGKILL', stderr_tail: 'killing myself with SIGKILL' } });
    expect(killed.ok ? '' : killed.error.log_path).toBe(join(dirs.logsDir, 'killed.err'));
    expect(after).toMatchObject({ ok: true, result: { echo: 'still here' } });
    expect(readFileSync(join(dirs.logsDir, 'chatty.out'), 'utf8')).toBe('hello\nworld\n');
    expect(readFileSync(join(dirs.logsDir, 'chatty.err'), 'utf8')).toBe('to stderr\n');
    await ex.close();
  });

  it('never runs more than max_workers at once, and cancel kills running workers', async () => {
    const { root, dirs } = tmpRun();
    const marker = join(root, 'started.txt');
    const ex = new ProcessExecutor({ maxWorkers: 2, dirs, killGraceMs: 500 });
    const runs = [0, 1, 2, 3].map((i) => ex.run({ key: `s${i}`, spec: mod('sleepFor', 60_000, marker) }));
    const t0 = Date.now();
    while ((existsSync(marker) ? readFileSync(marker, 'utf8').trim().split('\n').length : 0) < 2) {
      if (Date.now() - t0 > 20_000) throw new Error('workers did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(readFileSync(marker, 'utf8').trim().split('\n')).toHaveLength(2);
    const pids = readFileSync(marker, 'utf8').trim().split('\n').map(Number);
    await ex.cancel();
    const outs = await Promise.all(runs);
    expect(outs.map((o) => (o.ok ? 'ok' : o.error.kind))).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    expect(Date.now() - t0).toBeLessThan(20_000);
  });
});

describe('thread executor', () => {
  it('runs tasks in worker threads of this process; a dying worker is reported and the pool goes on', async () => {
    const { dirs } = tmpRun();
    const ex = new ThreadExecutor({ maxWorkers: 2, dirs, workerInit: 'export LH_INIT=threads' });
    const [ok, env, thrown, exited, chatty, after, simd] = await Promise.all([
      ex.run({ key: 'ok', spec: mod('echo', 1) }),
      ex.run({ key: 'env', spec: mod('envOf', 'LH_INIT') }),
      ex.run({ key: 'thrown', spec: mod('fail', 'boom') }),
      ex.run({ key: 'exited', spec: mod('exitWith', 3) }),
      ex.run({ key: 'chatty', spec: mod('chatty', ['a', 'b']) }),
      ex.run({ key: 'after', spec: mod('echo', 2) }),
      ex.run({ key: 'simd', spec: mod('relaxedSimd') }),
    ]);
    expect(simd).toMatchObject({ ok: true, result: { relaxed: true } });
    expect(ok).toMatchObject({ ok: true, result: { echo: 1, pid: process.pid } });
    expect((ok.ok && (ok.result as { threadId: number }).threadId) || 0).toBeGreaterThan(0);
    expect(env).toMatchObject({ ok: true, result: { value: 'threads' } });
    expect(process.env.LH_INIT).toBeUndefined();
    expect(thrown).toMatchObject({ ok: false, error: { kind: 'task_error', message: 'boom' } });
    expect(exited).toMatchObject({ ok: false, error: { kind: 'crashed' } });
    expect(after).toMatchObject({ ok: true, result: { echo: 2 } });
    expect(readFileSync(join(dirs.logsDir, 'chatty.out'), 'utf8')).toBe('a\nb\n');
    await ex.close();
  });

  it('refuses a worker_init it cannot honour', () => {
    const { dirs } = tmpRun();
    expect(() => new ThreadExecutor({ maxWorkers: 1, dirs, workerInit: 'source venv/bin/activate' })).toThrow(/no shell/);
    expect(FIXTURE).toMatch(/tasks\.mjs$/);
  });
});

describe('time budgets', () => {
  it('a task past its budget is stopped and reported as a timeout, on processes and threads; the pool goes on', async () => {
    for (const make of [
      (dirs: ReturnType<typeof tmpRun>['dirs']) => new ProcessExecutor({ maxWorkers: 1, dirs, killGraceMs: 500 }),
      (dirs: ReturnType<typeof tmpRun>['dirs']) => new ThreadExecutor({ maxWorkers: 1, dirs }),
    ]) {
      const { dirs } = tmpRun();
      const ex = make(dirs);
      const t0 = Date.now();
      const slow = await ex.run({ key: 'slow', spec: mod('sleepFor', 60_000), timeout_s: 1 });
      expect(slow).toMatchObject({ ok: false, error: { kind: 'timeout' } });
      expect(Date.now() - t0).toBeLessThan(15_000);
      // A task within its budget is untouched, and the executor still runs tasks.
      expect(await ex.run({ key: 'quick', spec: mod('echo', 1), timeout_s: 30 })).toMatchObject({ ok: true, result: { echo: 1 } });
      await ex.close();
    }
  });
});
