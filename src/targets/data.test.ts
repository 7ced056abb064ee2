import { describe, expect, it } from 'vitest';
import { keyAt, Stream } from '../rng/index.js';
import type { DataConfig } from '../config/resolve.js';
import { resolveTargetObject } from '../config/experiment.js';
import { addNoise, generateData, sampleInputs } from './data.js';
import { dlnProduct, dlnTeacherParams, forward } from './networks.js';
import { gammaInto } from './random.js';
import { singularValues } from '../validate/spectrum.js';

const N = 20_000;
const D = 3;

/**
 * Checks sample means and second moments about the true mean against the truth. The
 * tolerance is 5 standard errors, each estimated from the sample itself (sd of x_j, resp.
 * of (x_j - mu_j)(x_l - mu_l), over sqrt(n)), so it adapts to each distribution's tails.
 * At 5 SE a correct sampler fails one of these checks with probability ~1e-5, and the seeds
 * are fixed, so the test is deterministic.
 */
function expectMoments(X: Float64Array, n: number, d: number, mu: number[], cov: number[][]): void {
  for (let j = 0; j < d; j++) {
    let m = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) m += X[i * d + j]!;
    m /= n;
    for (let i = 0; i < n; i++) s2 += (X[i * d + j]! - m) ** 2;
    const se = Math.sqrt(s2 / (n - 1) / n);
    expect(Math.abs(m - mu[j]!), `mean ${j}: ${m} vs ${mu[j]} (SE ${se})`).toBeLessThan(5 * se);
  }
  for (let j = 0; j < d; j++) {
    for (let l = j; l < d; l++) {
      let m = 0;
      const p = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        p[i] = (X[i * d + j]! - mu[j]!) * (X[i * d + l]! - mu[l]!);
        m += p[i]!;
      }
      m /= n;
      let s2 = 0;
      for (let i = 0; i < n; i++) s2 += (p[i]! - m) ** 2;
      const se = Math.sqrt(s2 / (n - 1) / n);
      expect(Math.abs(m - cov[j]![l]!), `cov ${j},${l}: ${m} vs ${cov[j]![l]} (SE ${se})`).toBeLessThan(5 * se + 1e-12);
    }
  }
}

const eye = (d: number, s = 1): number[][] => Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? s : 0)));
const key = keyAt(11, Stream.data);

/** E[tanh(a) tanh(b)] for (a, b) ~ N(0, [[saa, sab], [sab, sbb]]), trapezoid rule on a grid (spectrally accurate for Gaussians). */
function tanhCov(saa: number, sab: number, sbb: number): number {
  const l11 = Math.sqrt(saa);
  const l21 = sab / l11;
  const l22 = Math.sqrt(Math.max(0, sbb - l21 * l21));
  const h = 0.05;
  let s = 0;
  for (let z1 = -8; z1 <= 8; z1 += h) {
    const w1 = Math.exp(-0.5 * z1 * z1);
    const ta = Math.tanh(l11 * z1);
    for (let z2 = -8; z2 <= 8; z2 += h) s += w1 * Math.exp(-0.5 * z2 * z2) * ta * Math.tanh(l21 * z1 + l22 * z2);
  }
  return (s * h * h) / (2 * Math.PI);
}

describe('input distributions match their mean and covariance', () => {
  it('gauss_iso: N(0, I)', () => {
    const { X } = sampleInputs({ n: N, x_dist: 'gauss_iso' }, D, key);
    expectMoments(X, N, D, [0, 0, 0], eye(D));
  });

  it('gauss_aniso: var_i = decay^i', () => {
    const { X } = sampleInputs({ n: N, x_dist: 'gauss_aniso', cov_decay: 0.5 }, D, key);
    expectMoments(X, N, D, [0, 0, 0], [[1, 0, 0], [0, 0.5, 0], [0, 0, 0.25]]);
  });

  it('mixture: centres of norm spread; mean = average centre, cov = I + between-centre covariance', () => {
    const cfg: DataConfig = { n: N, x_dist: 'mixture', mixture_k: 3, mixture_spread: 2 };
    const { X, info } = sampleInputs(cfg, D, key);
    const C = info.centres!;
    for (let c = 0; c < 3; c++) {
      expect(Math.hypot(C[c * D]!, C[c * D + 1]!, C[c * D + 2]!)).toBeCloseTo(2, 5);
    }
    const mu = [0, 1, 2].map((j) => (C[j]! + C[D + j]! + C[2 * D + j]!) / 3);
    const cov = eye(D).map((row, j) => row.map((v, l) => v + [0, 1, 2].reduce((s, c) => s + C[c * D + j]! * C[c * D + l]!, 0) / 3 - mu[j]! * mu[l]!));
    expectMoments(X, N, D, mu, cov);
  });

  it('lowdim_manifold: tanh(Z A), covariance by quadrature given A', () => {
    const { X, info } = sampleInputs({ n: N, x_dist: 'lowdim_manifold', x_dim_latent: 2 }, D, key);
    const A = info.A!;
    const S = (j: number, l: number): number => A[j]! * A[l]! + A[D + j]! * A[D + l]!;
    const cov = eye(D).map((row, j) => row.map((_, l) => tanhCov(S(j, j), S(j, l), S(l, l))));
    expectMoments(X, N, D, [0, 0, 0], cov);
    // Two latent dimensions: X lies near a 2-d surface, and every |x| < 1.
    expect(X.every((x) => Math.abs(x) < 1)).toBe(true);
  });

  it('heavy_tail: multivariate t, cov = nu / (nu - 2) I', () => {
    const nu = 10;
    const { X } = sampleInputs({ n: N, x_dist: 'heavy_tail', x_df: nu }, D, key);
    expectMoments(X, N, D, [0, 0, 0], eye(D, nu / (nu - 2)));
  });

  it('uniform on [low, high]: mean (low+high)/2, var (high-low)^2/12', () => {
    const { X } = sampleInputs({ n: N, x_dist: 'uniform', uniform_low: -1, uniform_high: 3 }, D, key);
    expectMoments(X, N, D, [1, 1, 1], eye(D, 16 / 12));
  });

  it('gamma draws have mean = var = shape, also for shape < 1', () => {
    for (const shape of [0.5, 2.5]) {
      const g = gammaInto(key, shape, new Float64Array(N));
      const m = g.reduce((a, b) => a + b, 0) / N;
      const v = g.reduce((a, b) => a + (b - m) ** 2, 0) / (N - 1);
      // SE of the mean is sqrt(shape / n); of the variance ~ sqrt((mu4 - var^2) / n), mu4 = 3k^2 + 6k.
      expect(Math.abs(m - shape)).toBeLessThan(5 * Math.sqrt(shape / N));
      expect(Math.abs(v - shape)).toBeLessThan(5 * Math.sqrt((3 * shape ** 2 + 6 * shape - shape ** 2) / N));
    }
  });
});

describe('noise models', () => {
  const n = N;
  const X = sampleInputs({ n, x_dist: 'gauss_iso' }, 2, key).X;
  const noiseOf = (cfg: DataConfig): Float64Array => {
    const Y = new Float64Array(n);
    addNoise(cfg, Y, X, n, 2, keyAt(3, Stream.noise));
    return Y;
  };
  const variance = (a: Float64Array): number => a.reduce((s, v) => s + v * v, 0) / a.length;

  it('gauss: variance sigma^2; student_t: sigma^2 nu/(nu-2); outliers: mixture variance', () => {
    // Relative SE of a variance estimate is sqrt((kurtosis - 1) / n): 1% for gauss at n = 20000.
    expect(Math.abs(variance(noiseOf({ n, noise_model: 'gauss', noise_scale: 0.5 })) / 0.25 - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    const nu = 10;
    expect(Math.abs(variance(noiseOf({ n, noise_model: 'student_t', noise_scale: 1, noise_df: nu })) / (nu / (nu - 2)) - 1)).toBeLessThan(5 * Math.sqrt(5 / n));
    const out = variance(noiseOf({ n, noise_model: 'outliers', noise_scale: 0.1, outlier_frac: 0.1, outlier_scale: 3 }));
    expect(Math.abs(out / (0.9 * 0.01 + 0.1 * 9) - 1)).toBeLessThan(0.1);
  });

  it('hetero: the noise scale grows as sigma (1 + s |x|)', () => {
    const Y = noiseOf({ n, noise_model: 'hetero', noise_scale: 0.2, hetero_scale: 2 });
    let num = 0;
    for (let i = 0; i < n; i++) {
      const r = Math.hypot(X[2 * i]!, X[2 * i + 1]!);
      num += (Y[i]! / (0.2 * (1 + 2 * r))) ** 2;
    }
    expect(Math.abs(num / n - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
  });
});

describe('deep linear teacher', () => {
  it('has a product of exactly rank r (singular values > 1e-10 of the largest), every rank up to the narrowest layer', () => {
    const spec = { sizes: [5, 4, 6, 3, 5], activation: 'identity' as const, bias: false, layerNorm: false };
    for (let r = 0; r <= 3; r++) {
      const theta = dlnTeacherParams(spec, r, keyAt(r + 1, Stream.teacher));
      const P = dlnProduct(spec, theta);
      const sv = singularValues(P, 5, 5);
      const rank = sv[0]! === 0 ? 0 : sv.filter((s) => s > 1e-10 * sv[0]!).length;
      expect(rank, `rank ${r}: singular values ${sv.join(', ')}`).toBe(r);
      if (r > 0) expect(sv[r - 1]!).toBeGreaterThan(0.75 ** 4 - 1e-12);
    }
  });

  it('labels of a rank-r DLN target are the product map (noise-free when noise_scale is 0)', () => {
    const cfg = resolveTargetObject({
      model: { family: 'dln', in_dim: 5, widths: [3], out_dim: 5 },
      teacher: { family: 'dln', rank: 2 },
      data: { n: 40, noise_scale: 0 },
      training: { init: 'teacher' },
      seed: 9,
    });
    const g = generateData(cfg);
    expect(g.Y).toEqual(g.Yclean);
    const P = dlnProduct(g.teacher!.spec, g.teacher!.theta);
    for (let i = 0; i < 40; i++) {
      for (let o = 0; o < 5; o++) {
        let s = 0;
        for (let j = 0; j < 5; j++) s += P[o * 5 + j]! * g.X[i * 5 + j]!;
        expect(g.Y[i * 5 + o]!).toBeCloseTo(s, 12);
      }
    }
  });
});

describe('teacher data', () => {
  it('a _null teacher has the student architecture with weights independent of the student init', () => {
    const cfg = resolveTargetObject({ model: 'small', data: { preset: 'small', noise_scale: 0 }, seed: 4 });
    const g = generateData(cfg);
    expect(g.teacher!.spec.sizes).toEqual([4, 4, 4, 1]);
    expect(g.Y).toEqual(forward(g.teacher!.spec, g.teacher!.theta, g.X, g.n));
  });

  it('teacher output dropout zeroes about rate of the labels; same config gives the same data', () => {
    const cfg = resolveTargetObject({ model: 'small', data: { n: 4000, noise_scale: 0 }, teacher: { dropout_rate: 0.3 }, seed: 4 });
    const g = generateData(cfg);
    const zeros = g.Y.filter((y, i) => y === 0 && g.Yclean[i] !== 0).length;
    // Binomial(4000, 0.3) among the nonzero clean labels: SE <= sqrt(0.21 * 4000) ~ 29.
    const nonzero = g.Yclean.filter((y) => y !== 0).length;
    expect(Math.abs(zeros - 0.3 * nonzero)).toBeLessThan(5 * Math.sqrt(0.21 * nonzero));
    expect(generateData(cfg).Y).toEqual(g.Y);
  });
});
