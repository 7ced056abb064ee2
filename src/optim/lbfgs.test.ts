import { describe, expect, it } from 'vitest';
import { lbfgs, type LbfgsObjective } from './lbfgs.js';

function rosenbrock(dim: number): LbfgsObjective & { evals: number } {
  const f = {
    dim,
    evals: 0,
    lossAndGrad(w: Float64Array, g: Float64Array): number {
      f.evals++;
      let L = 0;
      g.fill(0);
      for (let i = 0; i + 1 < dim; i++) {
        const a = w[i + 1]! - w[i]! * w[i]!;
        const b = 1 - w[i]!;
        L += 100 * a * a + b * b;
        g[i] = g[i]! - 400 * w[i]! * a - 2 * b;
        g[i + 1] = g[i + 1]! + 200 * a;
      }
      return L;
    },
  };
  return f;
}

/** 1/2 sum_i c_i w_i^2 with condition number 1e4. */
function illConditioned(dim: number): LbfgsObjective {
  const c = Float64Array.from({ length: dim }, (_, i) => 10 ** (4 * i / (dim - 1)));
  return {
    dim,
    lossAndGrad(w, g) {
      let L = 0;
      for (let i = 0; i < dim; i++) {
        g[i] = c[i]! * w[i]!;
        L += 0.5 * c[i]! * w[i]! * w[i]!;
      }
      return L;
    },
  };
}

describe('L-BFGS', () => {
  it('finds the Rosenbrock minimum (1, ..., 1) to the gradient tolerance', () => {
    const f = rosenbrock(10);
    const r = lbfgs(f, new Float64Array(10).fill(-1.2), { maxIter: 2000, gradTol: 1e-8 });
    expect(r.reason).toBe('converged');
    expect(r.gradNorm).toBeLessThanOrEqual(1e-8);
    for (const v of r.w) expect(v).toBeCloseTo(1, 6);
    expect(r.evaluations).toBe(f.evals);
  });

  it('solves a quadratic with condition number 1e4 in far fewer iterations than gradient descent could', () => {
    // Gradient descent needs ~kappa * ln(|g0| / tol) ~ 2e5 steps to this tolerance.
    const r = lbfgs(illConditioned(20), new Float64Array(20).fill(1), { maxIter: 5000, gradTol: 1e-6 });
    expect(r.reason).toBe('converged');
    expect(r.iterations).toBeLessThan(2000);
    expect(r.loss).toBeLessThan(1e-12);
  });

  it('stops at once when the start already meets the tolerance, and returns the start', () => {
    const w0 = Float64Array.of(1, 1, 1);
    const r = lbfgs(rosenbrock(3), w0, { maxIter: 100, gradTol: 1e-6 });
    expect(r).toMatchObject({ reason: 'converged', iterations: 0, evaluations: 1, loss: 0 });
    expect([...r.w]).toEqual([1, 1, 1]);
  });

  it('keeps every iterate in the projected set and returns the smallest gradient norm it saw', () => {
    const seen: number[] = [];
    const toF32 = (w: Float64Array): void => {
      for (let i = 0; i < w.length; i++) w[i] = Math.fround(w[i]!);
    };
    const r = lbfgs(rosenbrock(4), Float64Array.of(-1.2, 1, -1.2, 1), {
      maxIter: 40,
      gradTol: 0,
      project: toF32,
      onIter: (_k, _L, gn) => seen.push(gn),
    });
    for (const v of r.w) expect(Math.fround(v)).toBe(v);
    expect(r.gradNorm).toBe(Math.min(...seen, r.gradNorm));
    expect(r.gradNorm).toBeLessThan(seen[0]!);
  });

  it('reports a loss that is not finite instead of stepping into it', () => {
    const f: LbfgsObjective = { dim: 1, lossAndGrad: (w, g) => { g[0] = 1; return w[0]! < 0 ? NaN : w[0]!; } };
    const r = lbfgs(f, Float64Array.of(1e-12), { maxIter: 10, gradTol: 0 });
    expect(r.reason).toBe('non_finite');
    expect(r.w[0]).toBe(1e-12);
  });
});
