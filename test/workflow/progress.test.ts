/**
 * Progress of the long stages reaches the coordinator while they run, on threads (a message
 * port) and processes (a progress file): training, each chain's tuning and sampling, at a
 * bounded interval, checked against the contract, and in the task's log. SLURM jobs (the progress
 * file, read at each poll) where a cluster is available.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadExperiment } from '../../src/config/experiment.js';
import { ProcessExecutor } from '../../src/executors/processes.js';
import { ThreadExecutor } from '../../src/executors/threads.js';
import { SlurmExecutor, slurmAvailable } from '../../src/executors/slurm.js';
import type { Executor } from '../../src/executors/types.js';
import { PROGRESS_INTERVAL_MS, buildTaskResult, type ProgressRecord } from '../../src/contracts/index.js';
import { tmpRun } from './helpers.js';

// A target whose training and sampling each take seconds: 4 -> [55, 55] -> 1 (3411
// parameters), n = 2000, 1500 full-batch steps; HMC with 2 chains of 150 draws.
const yaml = `experiment: progress
targets:
  - {model: small, data: small, teacher: _null, seed: 5,
     overrides: {model: {target_params: 3500}, data: {n: 2000}, training: {steps: 1500, early_stop: {enabled: false}}}}
samplers:
  - {name: hmc, seed: 1, chains: {count: 2}, overrides: {draws: 150, warmup: 40, num_integration_steps: 5}}
`;
const dir = mkdtempSync(join(tmpdir(), 'lh-progress-cfg-'));
writeFileSync(join(dir, 'progress.yaml'), yaml);
const exp = loadExperiment(join(dir, 'progress.yaml'));

/** The largest gap between consecutive records, from the start of the first. */
function maxGapMs(records: ProgressRecord[]): number {
  let gap = 0;
  for (let i = 1; i < records.length; i++) gap = Math.max(gap, records[i]!.t_ms - records[i - 1]!.t_ms);
  return gap;
}

// A stage may be silent for at most the interval plus one unit of its work (a training step,
// a HMC iteration: milliseconds here) and the delivery (a 250 ms poll for processes).
const BOUND_MS = PROGRESS_INTERVAL_MS + 1000;

const slurm = await slurmAvailable();

const executors: Array<[string, (dirs: { tasksDir: string; logsDir: string }) => Executor]> = [
  ['threads', (dirs) => new ThreadExecutor({ maxWorkers: 1, dirs })],
  ['processes', (dirs) => new ProcessExecutor({ maxWorkers: 1, dirs })],
  ['slurm', (dirs) => new SlurmExecutor({ maxWorkers: 1, dirs, slurm: { mem_per_node: 0.5 }, pollMs: 250 })],
];

describe('progress forwarding', () => {
  for (const [kind, make] of executors) {
    it(`${kind}: a long build and sample report progress at a bounded interval, while they run`, async (ctx) => {
      if (kind === 'slurm' && !slurm.ok) ctx.skip(`no SLURM cluster: ${slurm.reason}`);
      const home = mkdtempSync(join(tmpdir(), `lh-progress-${kind}-`));
      const { dirs } = tmpRun();
      const ex = make(dirs);
      try {
        const build: ProgressRecord[] = [];
        let finished = false;
        let duringRun = 0;
        const b = await ex.run({
          key: 'build',
          spec: { kind: 'build', home, target: exp.targets[0]!.config },
          onProgress: (r) => {
            if (!finished) duringRun++;
            build.push(r);
          },
        });
        finished = true;
        expect(b.ok).toBe(true);
        const target = buildTaskResult.parse(b.ok ? b.result : null);
        expect(build.length).toBeGreaterThan(0);
        expect(build.every((r) => r.event.stage === 'train')).toBe(true);
        // Delivered as it happened, not at the end.
        expect(duringRun).toBe(build.length);
        // Adam's last step, then the L-BFGS polish of w*, which ends the build.
        const trained = build.find((r) => r.event.stage === 'train' && r.event.step === 1500 && r.event.phase === undefined);
        expect(trained?.event).toMatchObject({ stage: 'train', target_id: target.target_id, step: 1500, steps: 1500, eta_s: 0 });
        const last = build.at(-1)!.event;
        expect(last).toMatchObject({ stage: 'train', target_id: target.target_id, phase: 'polish', steps: 1000, eta_s: 0 });
        const trainSeconds = last.stage === 'train' ? last.elapsed_s : 0;
        // One event per interval of training (the throttle), and never a longer silence.
        expect(build.length).toBeGreaterThanOrEqual(Math.max(1, Math.floor((1000 * trainSeconds) / BOUND_MS)));
        expect(maxGapMs(build)).toBeLessThan(BOUND_MS);
        expect(readFileSync(join(dirs.logsDir, 'build.out'), 'utf8')).toMatch(/training step 1500\/1500, loss[^]*polishing w\* \(L-BFGS\) iteration \d+\/1000/);

        const sample: ProgressRecord[] = [];
        const s = await ex.run({
          key: 'sample',
          spec: { kind: 'sample', home, target_id: target.target_id, sampler: exp.samplers[0]! },
          onProgress: (r) => sample.push(r),
        });
        expect(s.ok).toBe(true);
        const stages = sample.map((r) => r.event.stage);
        expect(stages).toContain('tune');
        expect(stages).toContain('sample');
        expect(stages.indexOf('tune')).toBeLessThan(stages.indexOf('sample'));
        // Every chain reports its tuning and its sampling; the run ends at 100%.
        for (const stage of ['tune', 'sample'] as const) {
          const chains = new Set(sample.filter((r) => r.event.stage === stage).map((r) => (r.event as { chain: number }).chain));
          expect([...chains].sort()).toEqual([0, 1]);
        }
        const end = sample.at(-1)!.event;
        expect(end).toMatchObject({ stage: 'sample', sampler: 'hmc', chain: 1, chains: 2, step: 150, steps: 150, fraction: 1, eta_s: 0 });
        expect(end.stage === 'sample' && end.llc_mean !== null && Number.isFinite(end.llc_mean)).toBe(true);
        expect(maxGapMs(sample)).toBeLessThan(BOUND_MS);
        expect(readFileSync(join(dirs.logsDir, 'sample.out'), 'utf8')).toMatch(/hmc sampling 100% \(chain 2\/2 step 150\/150/);
      } finally {
        await ex.close();
      }
    }, 120_000);
  }
});
