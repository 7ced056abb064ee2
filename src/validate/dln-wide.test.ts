// The dln-wide family (validate --suite dln-wide) must be random over its whole stated ranges,
// not a handful of shapes: 300 draws reach every depth, both width endpoints, rank 0 and full
// rank, and n near both ends of 1e3-1e5; each case is a function of (seed, index) alone, so
// `--cases 5` runs the first five cases of `--cases 30`.
import { describe, expect, it } from 'vitest';
import { dlnWideCases, dlnWideJobs, WIDE_RANGES } from './dln-wide.js';
import { dlnLearningCoefficient } from '../posterior/truth.js';

describe('dln-wide family', () => {
  const cases = dlnWideCases(300, 0);

  it('stays inside its ranges and carries Aoyagi truth of its own shape', () => {
    for (const c of cases) {
      const layers = c.widths.length - 1;
      expect(layers).toBeGreaterThanOrEqual(WIDE_RANGES.layers[0]);
      expect(layers).toBeLessThanOrEqual(WIDE_RANGES.layers[1]);
      for (const w of c.widths) {
        expect(Number.isInteger(w)).toBe(true);
        expect(w).toBeGreaterThanOrEqual(WIDE_RANGES.width[0]);
        expect(w).toBeLessThanOrEqual(WIDE_RANGES.width[1]);
      }
      expect(c.rank).toBeGreaterThanOrEqual(0);
      expect(c.rank).toBeLessThanOrEqual(Math.min(...c.widths));
      expect(c.n).toBeGreaterThanOrEqual(10 ** WIDE_RANGES.logN[0]);
      expect(c.n).toBeLessThanOrEqual(10 ** WIDE_RANGES.logN[1]);
      const t = dlnLearningCoefficient(c.widths, c.rank);
      expect([c.truth, c.d]).toEqual([t.lambda, t.d]);
    }
  });

  it('reaches every depth, both width endpoints, rank 0 and full rank, n near both ends', () => {
    const depths = new Set(cases.map((c) => c.widths.length - 1));
    expect([...depths].sort()).toEqual([2, 3, 4, 5]);
    const widths = cases.flatMap((c) => c.widths);
    expect(widths).toContain(3);
    expect(widths).toContain(20);
    expect(cases.some((c) => c.rank === 0)).toBe(true);
    expect(cases.some((c) => c.rank === Math.min(...c.widths) && c.rank > 0)).toBe(true);
    // Both decades' ends: log10 n within 0.1 of 3 and of 5.
    expect(cases.some((c) => Math.log10(c.n) < 3.1)).toBe(true);
    expect(cases.some((c) => Math.log10(c.n) > 4.9)).toBe(true);
    // Mixed widths: most networks have at least three distinct widths.
    expect(cases.filter((c) => new Set(c.widths).size >= 3).length).toBeGreaterThan(150);
    // Roughly uniform depth: each of the four depths holds 15-35% of the draws.
    for (const depth of depths) {
      const share = cases.filter((c) => c.widths.length - 1 === depth).length / cases.length;
      expect(share, `depth ${depth}`).toBeGreaterThan(0.15);
      expect(share, `depth ${depth}`).toBeLessThan(0.35);
    }
  });

  it('case i depends only on (seed, i)', () => {
    const first = dlnWideCases(7, 0);
    expect(first).toEqual(cases.slice(0, 7));
    const other = dlnWideCases(7, 1);
    for (let i = 0; i < 7; i++) expect(other[i]!.name === first[i]!.name && other[i]!.teacherSeed === first[i]!.teacherSeed).toBe(false);
    // Distinct teachers and data for every case.
    const seeds = cases.flatMap((c) => [c.teacherSeed, c.dataSeed]);
    expect(new Set(seeds).size).toBe(seeds.length);
    const jobs = dlnWideJobs({ sampler: 'sgld', cases: 3, seed: 0 });
    expect(jobs.map((j) => [j.widths, j.rank, j.n, j.teacherSeed, j.dataSeed])).toEqual(first.slice(0, 3).map((c) => [c.widths, c.rank, c.n, c.teacherSeed, c.dataSeed]));
  });
});
