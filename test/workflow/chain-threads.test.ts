/**
 * The graph offers a sample task the cores no other task will use (running or waiting for a
 * worker), and after the workflow's time budget starts no build or sample task.
 */
import { describe, expect, it } from 'vitest';
import { runGraph, type GraphNode } from '../../src/workflow/graph.js';
import type { Executor, TaskOutcome, TaskRequest } from '../../src/executors/types.js';
import type { TaskSpec } from '../../src/contracts/index.js';

/** One worker slot per task up to `slots`; records the spec each task started with. */
function recordingExecutor(slots: number): { executor: Executor; started: Map<string, TaskSpec> } {
  const started = new Map<string, TaskSpec>();
  let free = slots;
  const queue: Array<() => void> = [];
  const executor: Executor = {
    kind: 'processes',
    maxWorkers: slots,
    async run(req: TaskRequest): Promise<TaskOutcome> {
      if (free === 0) await new Promise<void>((r) => queue.push(r));
      else free--;
      try {
        const at = req.atStart?.();
        if (at && 'skip' in at) return { ok: false, walltime_s: 0, error: { kind: 'cancelled', message: at.skip } };
        started.set(req.key, at ? at.spec : req.spec);
        req.onStart?.();
        await new Promise((r) => setTimeout(r, 50));
        return { ok: true, result: null, walltime_s: 0.05 };
      } finally {
        const next = queue.shift();
        if (next) next();
        else free++;
      }
    },
    cancel: async () => undefined,
    close: async () => undefined,
  };
  return { executor, started };
}

const sample = (id: string, deps: string[] = []): GraphNode => ({
  id,
  stage: 'sample',
  label: id,
  deps,
  spec: () => ({ kind: 'sample', home: '/nowhere', target_id: 'tgt_000000000000', sampler: { name: 'hmc', seed: 1 } }),
});

const threadsOf = (spec: TaskSpec | undefined): number | undefined => (spec?.kind === 'sample' ? spec.threads : undefined);

describe('chain threads offered by the graph', () => {
  it('a sample task alone gets every core; two at once share them', async () => {
    const { executor, started } = recordingExecutor(2);
    // a runs alone; b and c become ready together after it.
    await runGraph([sample('a'), sample('b', ['a']), sample('c', ['a'])], executor, { retries: 0, cores: 2 });
    expect(threadsOf(started.get('a'))).toBe(2);
    expect(threadsOf(started.get('b'))).toBe(1);
    expect(threadsOf(started.get('c'))).toBe(1);
  });

  it('offers none without cores (SLURM: a job has its own node)', async () => {
    const { executor, started } = recordingExecutor(2);
    await runGraph([sample('a')], executor, { retries: 0 });
    expect(threadsOf(started.get('a'))).toBeUndefined();
  });

  it('after the time budget no sample task starts; those that start carry the deadline', async () => {
    const { executor, started } = recordingExecutor(1);
    const deadline_ms = Date.now() + 30;
    const out = await runGraph([sample('a'), sample('b', ['a'])], executor, { retries: 0, budget: { deadline_ms, seconds: 0.03 } });
    const a = started.get('a');
    expect(a?.kind === 'sample' ? a.deadline_ms : undefined).toBe(deadline_ms);
    expect(started.has('b')).toBe(false);
    expect(out.get('b')).toMatchObject({ status: 'cancelled', error: { message: "not started: the workflow's time budget of 0.03 s was reached" } });
  });
});
