import { describe, expect, it } from 'vitest';
import type { TrialRecord } from '../contracts/index.js';
import { slurmTimeLimit, sbatchDirectives } from '../executors/slurm.js';
import { bestTrial, paretoFront, samplerEntryLine, setLine } from './outputs.js';
import { objectiveValue } from './study.js';

function trial(number: number, abs_error: number | null, total_fge: number | null, state: TrialRecord['state'] = 'complete'): TrialRecord {
  return {
    number, problem: 0, method: 'sgld', params: {}, sampler: { name: 'sgld', seed: 1, overrides: { step_size: 1e-4, precond: 'adam' }, posterior: { gamma: 0.5 } },
    state, value: abs_error, llc_mean: null, llc_mcse: null, reference: 8, abs_error, rel_error: null, total_fge, walltime_s: 1,
    nbeta: null, step_size: null, run_dir: null, error: null,
  };
}

describe('study outputs', () => {
  it('the Pareto front keeps the trials no other trial beats on both error and work, sorted by work', () => {
    const ts = [trial(0, 0.5, 100), trial(1, 0.2, 400), trial(2, 0.6, 500), trial(3, 0.1, 1000), trial(4, 0.2, 300), trial(5, null, null, 'timeout')];
    expect(paretoFront(ts).map((t) => t.number)).toEqual([0, 4, 3]);
    expect(bestTrial(ts)!.number).toBe(3);
  });

  it('a ready --set line and a sampler entry for the best settings', () => {
    const t = trial(0, 0.1, 10);
    expect(setLine(t)).toBe('--set step_size=0.0001 --set precond=adam --set posterior.gamma=0.5');
    expect(samplerEntryLine(t)).toBe('- {name: sgld, overrides: {step_size: 0.0001, precond: adam}, posterior: {gamma: 0.5}}');
  });

  it('objectives: absolute error, and Huber (quadratic within delta, linear beyond, continuous at delta)', () => {
    expect(objectiveValue({ type: 'abs', delta: 0.1 }, 7.5, 8)).toBeCloseTo(0.5, 15);
    const h = { type: 'huber' as const, delta: 0.1 };
    expect(objectiveValue(h, 8.05, 8)).toBeCloseTo(0.5 * 0.05 * 0.05, 15);
    expect(objectiveValue(h, 9, 8)).toBeCloseTo(0.1 * (1 - 0.05), 15);
    expect(objectiveValue(h, 8.1, 8)).toBeCloseTo(0.5 * 0.1 * 0.1, 12);
  });

  it('a trial budget becomes a SLURM job time limit', () => {
    expect(slurmTimeLimit(60)).toBe('1:00');
    expect(slurmTimeLimit(600)).toBe('10:00');
    expect(slurmTimeLimit(2.5)).toBe('0:03');
    expect(sbatchDirectives({ walltime: slurmTimeLimit(90) })).toContain('#SBATCH --time=1:30');
  });
});
