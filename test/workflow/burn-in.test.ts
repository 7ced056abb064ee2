/**
 * Where an experiment file's `burn_in` settings end up: through the loader, the workflow plan
 * and the sample task into the run manifest. Layers, later wins: the sampler's own default
 * (SGLD's `warmup`, none for a draw-based sampler) < the target entry's `burn_in` < its
 * `overrides.burn_in` < the sampler entry's `burn_in`. A fraction is of the sampling steps.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadExperiment } from '../../src/config/experiment.js';
import { planWorkflow } from '../../src/workflow/plan.js';
import { runGraph } from '../../src/workflow/graph.js';
import { runTaskReply } from '../../src/tasks/run.js';
import { readRunManifest } from '../../src/tasks/sample.js';
import { parseContract, sampleTaskResult, type RunManifest } from '../../src/contracts/index.js';
import type { Executor } from '../../src/executors/types.js';

const root = mkdtempSync(join(tmpdir(), 'lh-burn-in-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs tasks in this process: the plan's real specs and the real stage functions. */
const inProcess: Executor = {
  kind: 'threads',
  maxWorkers: 1,
  async run(req) {
    req.onStart?.();
    const reply = await runTaskReply(req.spec, req.key);
    return reply.ok
      ? { ok: true, result: reply.result, walltime_s: reply.walltime_s }
      : { ok: false, error: { kind: 'task_error', message: reply.error.message }, walltime_s: reply.walltime_s };
  },
  cancel: async () => {},
  close: async () => {},
};

const SGLD = '{name: sgld, seed: 1, overrides: {steps: 200, warmup: 20, eval_every: 10, step_size: 0.001}}';
const HMC = '{name: hmc, seed: 2, overrides: {draws: 20, warmup: 10, num_integration_steps: 3}}';

/** Plans the experiment and runs its build and sample tasks; the manifests by target and sampler index. */
async function manifests(name: string, yaml: string, sets: string[] = []): Promise<RunManifest[][]> {
  const file = join(root, `${name}.yaml`);
  writeFileSync(file, yaml);
  const exp = loadExperiment(file, sets);
  const home = join(root, name);
  const plan = planWorkflow(exp, home, { reuse: false });
  const nodes = plan.nodes.filter((n) => n.stage === 'build' || n.stage === 'sample');
  const outcomes = await runGraph(nodes, inProcess, { retries: 0 });
  return exp.targets.map((t) =>
    exp.samplers.map((_, j) => {
      const pair = plan.pairs.find((p) => p.target_index === t.index && p.sampler_index === j)!;
      const o = outcomes.get(pair.sample)!;
      if (o.status !== 'done') throw new Error(`${pair.sample}: ${o.error?.message ?? o.status}`);
      return readRunManifest(parseContract(sampleTaskResult, o.result, pair.sample, 'sample result').dir);
    }),
  );
}

const target = (seed: number, extra = ''): string =>
  `{model: {family: quadratic, dim: 4}, data: {n: 1000}, seed: ${seed}${extra}}`;

describe('burn_in in an experiment file reaches the run manifest', () => {
  it('target level, its overrides, sampler level, and the sampler default, with their precedence', async () => {
    const m = await manifests('layers', [
      'experiment: burn',
      'targets:',
      `  - ${target(1, ', burn_in: 0.25')}`,
      `  - ${target(2, ', burn_in: 0.25, overrides: {burn_in: 0.5}')}`,
      `  - ${target(3)}`,
      'samplers:',
      `  - ${SGLD}`,
      `  - ${SGLD.replace('seed: 1', 'seed: 1, burn_in: 30')}`,
      `  - ${HMC}`,
      '',
    ].join('\n'));
    const burn = m.map((row) => row.map((x) => x.burn_in));
    expect(burn).toEqual([
      // target burn_in 0.25 of 200 steps; the sampler's 30 wins; 0.25 of 20 draws
      [50, 30, 5],
      // the target's overrides.burn_in (0.5) wins over its burn_in
      [100, 30, 10],
      // nothing set: SGLD's warmup (20), HMC keeps every draw
      [20, 30, 0],
    ]);
    expect(m[0]![0]!.chain_settings.burn_in).toBe(0.25);
    expect(m[0]![0]!.schedule).toEqual({ steps: 200, burn_in: 50, eval_every: 10 });
    // Kept draws only: (200 - 50) / 10 rows per chain, 20 - 5 HMC draws.
    expect(m[0]![0]!.draws_per_chain.every((d) => d === 15)).toBe(true);
    expect(m[0]![2]!.draws_per_chain.every((d) => d === 15)).toBe(true);
    // The burn-in is part of what a run is: a different burn-in is a different run.
    expect(new Set(m.map((row) => row[0]!.run_id)).size).toBe(3);
  }, 60_000);

  it('a --set on the target entry, and a sampler burn_in alongside its chains block', async () => {
    const m = await manifests('sets', [
      'experiment: burn-set',
      'targets:',
      `  - ${target(4)}`,
      'samplers:',
      `  - ${SGLD}`,
      `  - ${SGLD.replace('seed: 1', 'seed: 1, chains: {count: 2}, burn_in: 0.1')}`,
      '',
    ].join('\n'), ['targets.0.burn_in=0.5']);
    expect(m[0]!.map((x) => x.burn_in)).toEqual([100, 20]);
    expect(m[0]![1]!.chains).toBe(2);
  }, 60_000);
});
