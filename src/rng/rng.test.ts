import { describe, expect, it } from 'vitest';
import { threefry2x32, key, foldIn, split, keyAt, normal, uniform, randintInto, bitsInto } from './index.js';

describe('threefry2x32', () => {
  // Known-answer vectors of Random123 (kat_vectors, threefry2x32_20), also used by JAX's tests.
  it.each([
    [[0x00000000, 0x00000000], [0x00000000, 0x00000000], [0x6b200159, 0x99ba4efe]],
    [[0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x1cb996fc, 0xbb002be7]],
    [[0x13198a2e, 0x03707344], [0x243f6a88, 0x85a308d3], [0xc4923a9c, 0x483df7a0]],
  ])('key %j counter %j -> %j', (k, c, expected) => {
    expect(threefry2x32(k[0]!, k[1]!, c[0]!, c[1]!)).toEqual(expected);
  });
});

describe('keys', () => {
  it('key(seed) is [0, seed] for 32-bit seeds and splits the high word for larger ones', () => {
    expect(key(42)).toEqual([0, 42]);
    expect(key(2 ** 32 + 7)).toEqual([1, 7]);
    expect(() => key(-1)).toThrow(/non-negative/);
    expect(() => key(1.5)).toThrow(/safe integer/);
  });

  it('split gives distinct keys equal to foldIn by index', () => {
    const k = key(0);
    const ks = split(k, 4);
    expect(new Set(ks.map((x) => x.join(','))).size).toBe(4);
    ks.forEach((ki, i) => expect(ki).toEqual(foldIn(k, i)));
    expect(keyAt(0, 3, 5)).toEqual(foldIn(foldIn(k, 3), 5));
  });

  it('is a pure function of its inputs', () => {
    expect(normal(keyAt(7, 1, 2), 5)).toEqual(normal(keyAt(7, 1, 2), 5));
    expect(normal(keyAt(7, 1, 2), 5)).not.toEqual(normal(keyAt(7, 1, 3), 5));
  });
});

describe('distributions', () => {
  const N = 200_000;

  it('normal draws have mean 0, variance 1, skew 0 and kurtosis 3 within sampling error', () => {
    const x = normal(key(123), N);
    let m1 = 0;
    for (const v of x) m1 += v;
    m1 /= N;
    let m2 = 0;
    let m3 = 0;
    let m4 = 0;
    for (const v of x) {
      const d = v - m1;
      m2 += d * d;
      m3 += d * d * d;
      m4 += d * d * d * d;
    }
    m2 /= N;
    m3 /= N;
    m4 /= N;
    // Standard errors of the sample moments of a normal: 1/sqrt(N), sqrt(2/N), sqrt(6/N), sqrt(24/N).
    expect(Math.abs(m1)).toBeLessThan(4 / Math.sqrt(N));
    expect(Math.abs(m2 - 1)).toBeLessThan(4 * Math.sqrt(2 / N));
    expect(Math.abs(m3)).toBeLessThan(4 * Math.sqrt(6 / N));
    expect(Math.abs(m4 - 3)).toBeLessThan(4 * Math.sqrt(24 / N) * 2);
  });

  it('uniform draws lie in [0, 1) with mean 1/2 and variance 1/12', () => {
    const u = uniform(key(5), N);
    let s = 0;
    let s2 = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of u) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      s += v;
      s2 += v * v;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    const mean = s / N;
    const variance = s2 / N - mean * mean;
    expect(Math.abs(mean - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / N));
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(4 * Math.sqrt(1 / 180 / N));
  });

  it('randint covers [0, bound) evenly', () => {
    const bound = 7;
    const out = randintInto(key(9), new Int32Array(70_000), bound);
    const counts = new Array(bound).fill(0);
    for (const v of out) counts[v]++;
    const expected = out.length / bound;
    // Pearson chi-square with 6 degrees of freedom: 22.5 is its 0.999 quantile.
    const chi2 = counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(22.5);
    expect(() => randintInto(key(9), new Int32Array(1), 0)).toThrow(/bound/);
  });

  it('bits are balanced', () => {
    const bits = bitsInto(key(1), new Uint32Array(10_000));
    let ones = 0;
    for (const b of bits) for (let j = 0; j < 32; j++) ones += (b >>> j) & 1;
    const total = 32 * bits.length;
    expect(Math.abs(ones / total - 0.5)).toBeLessThan(4 * 0.5 / Math.sqrt(total));
  });
});
