import { describe, expect, it } from 'vitest';
import type { JsonValue } from '../../src/contracts/index.js';
import type { Executor, TaskOutcome, TaskRequest } from '../../src/executors/types.js';
import { runGraph, validateGraph, type GraphNode } from '../../src/workflow/graph.js';
import { resultRows, resultsCsv, summaryTable } from '../../src/workflow/results.js';
import { tableFromIPC } from 'apache-arrow';
import { resultsFeather } from '../../src/workflow/results.js';

/** An in-memory executor: `behaviour(key)` decides each attempt's outcome. */
function fakeExecutor(behaviour: (req: TaskRequest) => TaskOutcome | Promise<TaskOutcome>): Executor & { calls: string[] } {
  const calls: string[] = [];
  return {
    kind: 'processes', maxWorkers: 4, calls,
    run: async (req) => { calls.push(req.key); return behaviour(req); },
    cancel: async () => undefined,
    close: async () => undefined,
  };
}
const ok = (result: JsonValue): TaskOutcome => ({ ok: true, result, walltime_s: 0.1 });
const bad = (message: string): TaskOutcome => ({ ok: false, walltime_s: 0.1, error: { kind: 'crashed', message, exit_code: 3, log_path: '/logs/x.err' } });

function node(id: string, deps: string[] = [], stage: GraphNode['stage'] = 'sample'): GraphNode {
  return { id, stage, label: id, deps, spec: (d) => ({ kind: 'module', module: '/x.js', args: [id, Object.fromEntries([...d].map(([k, v]) => [k, v ?? null]))] }) };
}

describe('task graph', () => {
  it('retries failed tasks, reports dependency failures with the root cause and finishes the rest', async () => {
    const ex = fakeExecutor((req) => {
      if (req.key.startsWith('b1')) return bad('b1 broke');
      if (req.key === 'flaky') return bad('first attempt fails');
      return ok({ key: req.key, spec: req.spec });
    });
    const nodes = [node('a', [], 'build'), node('b1', [], 'build'), node('flaky'), node('c', ['a']), node('d', ['b1']), node('e', ['d'])];
    const out = await runGraph(nodes, ex, { retries: 1 });
    expect(out.get('a')!.status).toBe('done');
    expect(out.get('flaky')).toMatchObject({ status: 'done', attempts: 2 });
    expect(ex.calls).toContain('flaky.retry1');
    expect(out.get('b1')).toMatchObject({ status: 'failed', attempts: 2, error: { kind: 'crashed', message: 'b1 broke', exit_code: 3 } });
    expect(out.get('d')).toMatchObject({ status: 'dependency_failed', attempts: 0, root_cause: { node: 'b1', error: { message: 'b1 broke' } } });
    // The root cause travels down the chain, not the intermediate skip.
    expect(out.get('e')).toMatchObject({ status: 'dependency_failed', root_cause: { node: 'b1' } });
    expect(out.get('e')!.error!.message).toBe('not run: b1 failed: b1 broke');
    // The dependent got its dependency's result in its spec.
    const c = out.get('c')!.result as { spec: { args: [string, Record<string, { key: string }>] } };
    expect(c.spec.args[1].a!.key).toBe('a');
    expect(ex.calls.filter((k) => k.startsWith('d') || k.startsWith('e'))).toEqual([]);
  });

  it('stops submitting when cancelled', async () => {
    const ac = new AbortController();
    const ex = fakeExecutor(async (req) => {
      if (req.key === 'a') {
        ac.abort();
        return { ok: false, walltime_s: 0, error: { kind: 'cancelled', message: 'killed' } };
      }
      return ok(1);
    });
    const out = await runGraph([node('a'), node('b', ['a']), node('c', ['b'])], ex, { retries: 3, signal: ac.signal });
    expect([...out.values()].map((o) => o.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(ex.calls).toEqual(['a']);
  });

  it('rejects cycles, unknown dependencies and unsafe ids', () => {
    expect(() => validateGraph([node('a', ['b']), node('b', ['a'])])).toThrow(/dependency cycle: a -> b -> a/);
    expect(() => validateGraph([node('a', ['zz'])])).toThrow(/unknown task zz/);
    expect(() => validateGraph([node('a/b')])).toThrow(/must match/);
  });

  it('makes one result row per target x sampler with the failing task as the row error', async () => {
    const ex = fakeExecutor((req) => {
      const id = req.spec.kind === 'module' ? req.spec.args?.[0] : undefined;
      if (id === 'sample-hmc') return ok({ run_id: 'r1', dir: '/store/runs/r1', reused: false, failures: [] });
      if (id === 'diag-hmc') {
        return ok({
          run_dir: '/store/runs/r1', llc_mean: 1.25, llc_mcse: 0.05, r_hat: 1.01, ess_bulk: 321.4, warnings: [],
          reused: false, analysis_path: '/store/runs/r1/analysis.json', plots: [],
        });
      }
      if (id === 'sample-sgld') return bad('sgld diverged');
      return ok({ target_id: 'tgt_1', dir: '/store/targets/tgt_1', reused: true });
    });
    const nodes = [node('build', [], 'build'), node('sample-hmc', ['build']), node('diag-hmc', ['sample-hmc'], 'diagnose'), node('sample-sgld', ['build']), node('diag-sgld', ['sample-sgld'], 'diagnose')];
    const out = await runGraph(nodes, ex, { retries: 0 });
    const pairs = [
      { target_index: 0, target_id: 'tgt_1', sampler: 'hmc', sampler_index: 0, build: 'build', sample: 'sample-hmc', diagnose: 'diag-hmc' },
      { target_index: 0, target_id: 'tgt_1', sampler: 'sgld', sampler_index: 1, build: 'build', sample: 'sample-sgld', diagnose: 'diag-sgld' },
    ];
    const rows = resultRows(pairs, out);
    expect(rows[0]).toMatchObject({ target: 'tgt_1', sampler: 'hmc', llc_mean: 1.25, llc_mcse: 0.05, r_hat: 1.01, status: 'ok', run_dir: '/store/runs/r1', error: null });
    expect(rows[1]).toMatchObject({ sampler: 'sgld', llc_mean: null, status: 'failed', run_dir: null });
    expect(rows[1]!.error).toMatch(/^sample-sgld: crashed: sgld diverged; log \/logs\/x.err/);
    const csv = resultsCsv(rows).split('\n');
    expect(csv[0]).toBe('target,sampler,llc_mean,llc_mcse,r_hat,ess_bulk,walltime,status,run_dir,error,model,truth,trust,agreement_z,warnings');
    expect(csv[1]).toMatch(/^tgt_1,hmc,1.25,0.05,1.01,321.4,0.1,ok,\/store\/runs\/r1,,,,ok,,$/);
    const table = tableFromIPC(resultsFeather(rows));
    expect(table.numRows).toBe(2);
    expect(table.getChild('llc_mean')!.toArray()[0]).toBe(1.25);
    expect(table.getChild('llc_mean')!.get(1)).toBeNull();
    const text = summaryTable(rows);
    expect(text.split('\n')[0]).toMatch(/^target\s+model\s+sampler\s+λ̂ ± MCSE\s+truth\s+R-hat\s+ESS\s+time\s+trust$/);
    expect(text).toContain('1.250 ± 0.050');
  });
});
