/**
 * The seed's bug class: tasks that mutate process-global state (a module-level flag like
 * jax_enable_x64, process.env, a global config object like matplotlib's rcParams) running
 * concurrently. Each task sets all three to its own tag, waits, and reads them back.
 */
import { describe, expect, it } from 'vitest';
import { ProcessExecutor } from '../../src/executors/processes.js';
import { ThreadExecutor } from '../../src/executors/threads.js';
import type { TaskOutcome } from '../../src/executors/types.js';
import { FIXTURE, mod, tmpRun } from './helpers.js';

interface Seen {
  tag: string;
  before: { flag: string | null; env: string | null; config: string | null };
  after: { flag: string; env: string; config: string };
  pid: number;
  threadId: number;
}

const TAGS = ['f32', 'f64', 'agg', 'tex', 'x1', 'x2'];

function seen(outs: TaskOutcome[]): Seen[] {
  return outs.map((o) => {
    if (!o.ok) throw new Error(`${o.error.kind}: ${o.error.message}`);
    return o.result as unknown as Seen;
  });
}

const interfered = (s: Seen): boolean => s.after.flag !== s.tag || s.after.env !== s.tag || s.after.config !== s.tag;

describe('isolation of process-global state', () => {
  it('reproduces the bug class when tasks share one runtime (the baseline the executors must beat)', async () => {
    const fx = (await import(FIXTURE)) as { mutateGlobals: (t: string, ms: number) => Promise<Seen> };
    const saved = process.env.LH_TEST_FLAG;
    try {
      const res = await Promise.all(TAGS.map((t, i) => fx.mutateGlobals(t, 100 + 20 * i)));
      // Everyone but the last writer reads someone else's flag, env var and config.
      expect(res.filter(interfered).length).toBe(TAGS.length - 1);
    } finally {
      if (saved === undefined) delete process.env.LH_TEST_FLAG;
      else process.env.LH_TEST_FLAG = saved;
      delete (globalThis as Record<string, unknown>).__lhTestConfig;
    }
  });

  it('process executor: interference is impossible; every task starts from pristine state', async () => {
    const { dirs } = tmpRun();
    const ex = new ProcessExecutor({ maxWorkers: 3, dirs });
    const res = seen(await Promise.all(TAGS.map((t) => ex.run({ key: t, spec: mod('mutateGlobals', t, 400) }))));
    for (const s of res) {
      expect(s.after).toEqual({ flag: s.tag, env: s.tag, config: s.tag });
      // Even a task that follows another one on the same slot sees nothing it left behind.
      expect(s.before).toEqual({ flag: null, env: null, config: null });
    }
    expect(new Set(res.map((s) => s.pid)).size).toBe(TAGS.length);
    expect(process.env.LH_TEST_FLAG).toBeUndefined();
    await ex.close();
  });

  it('thread executor: concurrent tasks do not interfere, but a reused worker carries state to its next task', async () => {
    const { dirs } = tmpRun();
    const ex = new ThreadExecutor({ maxWorkers: 2, dirs });
    const res = seen(await Promise.all(TAGS.map((t) => ex.run({ key: t, spec: mod('mutateGlobals', t, 300) }))));
    // Concurrently running tasks are in different workers: module state, process.env (a copy
    // per worker) and globalThis are per worker, so no task saw another's value mid-flight...
    for (const s of res) expect(s.after).toEqual({ flag: s.tag, env: s.tag, config: s.tag });
    // ...all in this one process...
    expect(new Set(res.map((s) => s.pid))).toEqual(new Set([process.pid]));
    const threads = new Set(res.map((s) => s.threadId));
    expect(threads.size).toBeLessThanOrEqual(2);
    // ...and the worker's env copy never reaches the coordinator's process.env...
    expect(process.env.LH_TEST_FLAG).toBeUndefined();
    // ...but workers are reused: 6 tasks on 2 workers, so at least 4 tasks started with the
    // module flag, env var and global config that the previous task on their worker left.
    // This is what the thread executor shares, and why isolation needs the process executor.
    const inherited = res.filter((s) => s.before.flag !== null);
    expect(inherited.length).toBeGreaterThanOrEqual(TAGS.length - threads.size);
    for (const s of inherited) {
      expect(TAGS).toContain(s.before.flag);
      expect(s.before.env).toBe(s.before.flag);
      expect(s.before.config).toBe(s.before.flag);
    }
    await ex.close();
  });

  it('process executor: a task that kills its own process takes down only itself', async () => {
    const { dirs } = tmpRun();
    const ex = new ProcessExecutor({ maxWorkers: 2, dirs });
    const [killed, sibling] = await Promise.all([
      ex.run({ key: 'killer', spec: mod('killSelf', 'SIGKILL') }),
      ex.run({ key: 'sibling', spec: mod('mutateGlobals', 'sibling', 300) }),
    ]);
    expect(killed).toMatchObject({ ok: false, error: { kind: 'crashed', signal: 'SIGKILL' } });
    expect(sibling).toMatchObject({ ok: true, result: { after: { flag: 'sibling' } } });
  });
});
