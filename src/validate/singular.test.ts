// validate --suite singular: the targets' exact finite-n truths, the reduced-rank regression's
// labels, and the verdict of a case (a quick HMC case passes within 3 MCSE; a diverged, a
// too-noisy and a biased run fail).
import { describe, expect, it } from 'vitest';
import { keyAt, normalInto, Stream } from '../rng/index.js';
import { runSingularJob, SINGULAR_TARGETS, singularJobs, singularTarget, orthogonalNoise } from './singular.js';
import type { SingularCaseJob } from '../contracts/validation.js';

const nBetaOf = (n: number): number => n / Math.log(n);

describe('singular targets: exact finite-n truths', () => {
  it('rise towards the asymptotic lambda as n grows, and never exceed it', () => {
    for (const t of SINGULAR_TARGETS.filter((x) => x.target.family !== 'rrr')) {
      const ns = [1e3, 1e4, 1e5, 1e6, 1e8];
      // The data (and so the scales s) at a fixed size; only n beta moves.
      const truths = ns.map((n) => singularTarget(t.target, 2000, 300, { nBeta: nBetaOf(n), gamma: 1 }));
      const lam = truths[0]!.asymptote;
      const gaps = truths.map((x) => lam - x.truth);
      for (const [i, g] of gaps.entries()) {
        expect(g, `${t.name} n = ${ns[i]}`).toBeGreaterThan(0);
        if (i > 0) expect(g, `${t.name} n = ${ns[i]}`).toBeLessThan(gaps[i - 1]!);
      }
      // Multiplicity 1 targets close in like a power of n beta; the crossing (1, 1)
      // (multiplicity 2) only like 1 / log(n beta).
      const last = gaps[gaps.length - 1]! / lam;
      expect(last, t.name).toBeLessThan(t.name.includes('(1,1)') ? 0.15 : 0.02);
    }
  });

  it('are the asymptote itself for the reduced-rank regression (no finite-n closed form)', () => {
    const t = singularTarget({ family: 'rrr', M: 4, H: 3, N: 3 }, 500, 1, { nBeta: nBetaOf(500), gamma: 1 });
    try {
      expect([t.truth, t.asymptote, t.finiteN]).toEqual([4, 4, false]);
    } finally {
      t.loss.dispose?.();
    }
  });
});

describe('reduced-rank regression labels', () => {
  it('are orthogonal to every input column: X^T Y = 0', () => {
    const n = 3000;
    const M = 4;
    const N = 3;
    const X = normalInto(keyAt(5, Stream.data), new Float64Array(n * M));
    const Y = orthogonalNoise(X, n, M, N, 5);
    let scale = 0;
    for (const y of Y) scale += y * y;
    expect(scale / Y.length).toBeGreaterThan(0.9); // still unit noise, not zeroed
    for (let j = 0; j < M; j++) {
      for (let k = 0; k < N; k++) {
        let dot = 0;
        for (let r = 0; r < n; r++) dot += X[r * M + j]! * Y[r * N + k]!;
        expect(Math.abs(dot), `column ${j} x label ${k}`).toBeLessThan(1e-9 * n);
      }
    }
  });

  it('so L_n(w) - L_n(0) is even in the product B A (no linear term)', () => {
    const M = 4;
    const H = 3;
    const N = 3;
    const t = singularTarget({ family: 'rrr', M, H, N }, 2000, 301, { nBeta: nBetaOf(2000), gamma: 1 });
    try {
      const w = normalInto(keyAt(9, Stream.init), new Float64Array(M * H + H * N));
      for (let i = 0; i < w.length; i++) w[i] = 0.3 * w[i]!;
      const flipped = Float64Array.from(w);
      for (let i = M * H; i < w.length; i++) flipped[i] = -flipped[i]!; // B -> -B
      const L0 = t.loss.loss(new Float64Array(w.length));
      const a = t.loss.loss(w) - L0;
      const b = t.loss.loss(flipped) - L0;
      expect(a).toBeGreaterThan(0);
      expect(Math.abs(a - b) / a).toBeLessThan(1e-9);
    } finally {
      t.loss.dispose?.();
    }
  });
});

describe('singular case verdicts (n = 2000)', () => {
  const job = (sampler: string, target: number, overrides: Record<string, unknown> = {}): SingularCaseJob => {
    const j = singularJobs({ samplers: [sampler], quick: true, targets: [target], overrides })[0]!;
    if (j.kind !== 'singular') throw new Error('not a singular job');
    return j;
  };

  it('HMC on the normal crossing (1, 2) passes within 3 MCSE of the exact truth', async () => {
    const r = await runSingularJob(job('hmc', 0));
    expect(r.n).toBe(2000);
    expect(r.mcse).not.toBeNull();
    // HMC is exact: the tolerance is 3 MCSE and nothing else.
    expect(r.tolerance).toBeCloseTo(3 * r.mcse!, 12);
    expect(Math.abs(r.lambda_hat - r.truth), `${r.lambda_hat} vs ${r.truth}`).toBeLessThanOrEqual(r.tolerance!);
    expect(r.pass).toBe(true);
    // The truth is the exact finite-n value, below the asymptote 1/4.
    expect(r.truth).toBeLessThan(0.25);
    expect(r.truth).toBeGreaterThan(0.2);
  }, 30_000);

  it('a diverged run fails', async () => {
    // A fixed step far beyond stability on the quartic valley walls.
    const r = await runSingularJob(job('sgld', 2, { step_size: 5, steps: 400, eval_every: 10 }));
    expect(r.pass).toBe(false);
    expect(r.note ?? '').toMatch(/non-finite|diverged/);
  }, 30_000);

  it('a run too short to resolve 25% fails, whatever its mean, even after its rerun with more chains', async () => {
    const r = await runSingularJob(job('hmc', 0, { draws: 6, warmup: 10 }));
    expect(r.pass).toBe(false);
    expect(r.per_chain.length).toBeGreaterThan(4);
    expect(r.note ?? '').toMatch(/rerun with \d+ chains: 4 gave/);
    expect(r.note ?? '').toMatch(/too noisy to decide/);
  }, 30_000);

  it('a noisy case is rerun with the chains its MCSE asks for, and then decided', async () => {
    // 4 chains of 150 draws: 3 MCSE ~ 0.063 against 25% of the truth ~ 0.052.
    const r = await runSingularJob(job('hmc', 0, { draws: 150, warmup: 100 }));
    expect(r.per_chain.length).toBeGreaterThan(4);
    expect(r.note ?? '').toMatch(new RegExp(`rerun with ${r.per_chain.length} chains`));
    expect(3 * r.mcse!).toBeLessThanOrEqual(0.25 * r.truth);
    expect(r.note ?? '').not.toMatch(/too noisy/);
    expect(r.pass).toBe(true);
    // Already resolved: no rerun.
    const resolved = await runSingularJob(job('hmc', 0, { draws: 200, warmup: 200 }));
    expect(resolved.per_chain).toHaveLength(4);
    expect(resolved.note ?? '').not.toMatch(/rerun/);
  }, 60_000);

  it('a resolved but biased run fails', async () => {
    // SGLD at a fixed step with eps n beta s ~ 1.6 on the quadratic coordinate: stable (< 4),
    // but the ULA variance of that coordinate is 1 / (1 - 1.6 / 4) = 1.67 times the exact one,
    // about +35% on lambda-hat, far beyond 2 target_bias + 3 MCSE.
    const r = await runSingularJob(job('sgld', 2, { step_size: 6e-3, steps: 20_000, eval_every: 20 }));
    expect(r.mcse).not.toBeNull();
    expect(3 * r.mcse!).toBeLessThan(0.25 * r.truth);
    expect(Math.abs(r.lambda_hat - r.truth)).toBeGreaterThan(r.tolerance!);
    expect(r.pass).toBe(false);
  }, 30_000);

  it('a preconditioned chain thrown far out in calibration is restarted, not left there', async () => {
    // At w* = 0 the crossing's Hessian vanishes, so the first pilot step is 1 / gamma; RMSProp
    // normalises the huge gradient out there, so the position stays finite (lambda-hat was
    // ~1e12 in every chain). The calibration now treats lambda-hat > 4 d/2 as divergence.
    const r = await runSingularJob({ ...job('rmsprop_sgld', 0, { steps: 2000, eval_every: 10 }), chains: 2 });
    for (const c of r.per_chain) expect(c, 'a chain mean').toBeLessThan(r.d / 2);
  }, 30_000);
});
