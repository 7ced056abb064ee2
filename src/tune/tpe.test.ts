import { describe, expect, it } from 'vitest';
import { propose, type Observation, type Params, type SearchSettings, type SearchSpace } from './tpe.js';

/** Runs a sequential search of `trials` trials on `f`; returns the best value after each trial. */
function search(space: SearchSpace, f: (p: Params) => number, settings: SearchSettings, trials: number): number[] {
  const history: Observation[] = [];
  const best: number[] = [];
  for (let t = 0; t < trials; t++) {
    const params = propose(space, history, settings, t);
    const value = f(params);
    history.push({ params, value });
    best.push(Math.min(value, best[best.length - 1] ?? Infinity));
  }
  return best;
}

// A step size on a log scale (the optimum 1e-4, as an SGLD step), a float, a gridded integer
// and a categorical: the mixed space the tuner searches.
const space: SearchSpace = [
  ['eta', { dist: 'float', low: 1e-7, high: 1e-1, log: true, step: null }],
  ['gamma', { dist: 'float', low: 0, high: 1, log: false, step: null }],
  ['steps', { dist: 'int', low: 1000, high: 20000, log: false, step: 1000 }],
  ['precond', { dist: 'categorical', choices: ['none', 'rmsprop', 'adam'] }],
];
// The optimum: eta 1e-4, gamma 0.7, steps 12000, precond rmsprop (objective 0).
function objective(p: Params): number {
  const e = Math.log10(p.eta as number) + 4;
  const g = (p.gamma as number) - 0.7;
  const s = ((p.steps as number) - 12000) / 19000;
  return e * e + 10 * g * g + 4 * s * s + (p.precond === 'rmsprop' ? 0 : 0.5);
}

describe('propose', () => {
  it('stays inside the space: bounds, grids, integers and choices', () => {
    const history: Observation[] = [];
    for (let t = 0; t < 40; t++) {
      const p = propose(space, history, { type: 'tpe', seed: 3, n_startup_trials: 10 }, t);
      expect(p.eta as number).toBeGreaterThanOrEqual(1e-7);
      expect(p.eta as number).toBeLessThanOrEqual(1e-1);
      expect(p.gamma as number).toBeGreaterThanOrEqual(0);
      expect(p.gamma as number).toBeLessThanOrEqual(1);
      expect(Number.isInteger(p.steps)).toBe(true);
      expect((p.steps as number) % 1000).toBe(0);
      expect(['none', 'rmsprop', 'adam']).toContain(p.precond);
      history.push({ params: p, value: objective(p) });
    }
  });

  it('is a function of (seed, trial number, history): same inputs, same proposal; another seed, another', () => {
    const history: Observation[] = [];
    for (let t = 0; t < 15; t++) {
      const p = propose(space, history, { type: 'tpe', seed: 11, n_startup_trials: 5 }, t);
      expect(propose(space, history, { type: 'tpe', seed: 11, n_startup_trials: 5 }, t)).toEqual(p);
      expect(propose(space, history, { type: 'tpe', seed: 12, n_startup_trials: 5 }, t)).not.toEqual(p);
      history.push({ params: p, value: objective(p) });
    }
  });

  it('TPE beats random search on a known optimum, on average over seeds', () => {
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const trials = 60;
    const tpe = seeds.map((seed) => search(space, objective, { type: 'tpe', seed, n_startup_trials: 10 }, trials)[trials - 1]!);
    const rnd = seeds.map((seed) => search(space, objective, { type: 'random', seed, n_startup_trials: 10 }, trials)[trials - 1]!);
    const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / a.length;
    // The comparison is paired by seed: both start from the same 10 random trials.
    const wins = seeds.filter((_, i) => tpe[i]! < rnd[i]!).length;
    expect(mean(tpe)).toBeLessThan(0.5 * mean(rnd));
    expect(wins).toBeGreaterThanOrEqual(8);
  });

  it('finds the optimum of a 1-D log-scale step size (the SGLD calibration shape)', () => {
    const oneD: SearchSpace = [['eta', { dist: 'float', low: 1e-6, high: 1e-1, log: true, step: null }]];
    // |bias| grows with the step above the optimum, the variance below it: a valley at 3e-4.
    const f = (p: Params): number => Math.abs(Math.log10(p.eta as number) - Math.log10(3e-4));
    const best = seedsMean([21, 22, 23, 24, 25], (seed) => search(oneD, f, { type: 'tpe', seed, n_startup_trials: 5 }, 30)[29]!);
    const rnd = seedsMean([21, 22, 23, 24, 25], (seed) => search(oneD, f, { type: 'random', seed, n_startup_trials: 5 }, 30)[29]!);
    expect(best).toBeLessThan(rnd);
    expect(best).toBeLessThan(0.05); // within 12% of the optimal step
  });

  it('treats failed trials as the worst: proposals move away from the region that fails', () => {
    const oneD: SearchSpace = [['x', { dist: 'float', low: 0, high: 1, log: false, step: null }]];
    const history: Observation[] = [];
    // Everything above 0.5 fails; below, lower is better.
    for (let t = 0; t < 40; t++) {
      const p = propose(oneD, history, { type: 'tpe', seed: 5, n_startup_trials: 10 }, t);
      history.push({ params: p, value: (p.x as number) > 0.5 ? null : (p.x as number) });
    }
    const late = history.slice(20).filter((o) => o.value === null).length;
    const early = history.slice(0, 10).filter((o) => o.value === null).length;
    expect(late / 20).toBeLessThan(early / 10 + 1e-9);
    expect(late).toBeLessThanOrEqual(4);
  });
});

function seedsMean(seeds: number[], f: (seed: number) => number): number {
  return seeds.reduce((a, s) => a + f(s), 0) / seeds.length;
}
