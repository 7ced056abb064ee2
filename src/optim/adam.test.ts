import { describe, expect, it } from 'vitest';
import { adamStepInto, biasCorrection, updateMoments } from './adam.js';

describe('Adam', () => {
  it('moments are the EMAs of g and g^2; RMSProp leaves m alone', () => {
    const m = new Float64Array(2);
    const v = new Float64Array(2);
    updateMoments(m, v, Float64Array.of(2, -1), 0.9, 0.99);
    expect(m[0]).toBeCloseTo(0.2, 15);
    expect(m[1]).toBeCloseTo(-0.1, 15);
    expect(v[0]).toBeCloseTo(0.04, 15);
    const before = Float64Array.from(m);
    updateMoments(null, v, Float64Array.of(1, 1), 0.9, 0.99);
    expect(m).toEqual(before);
    expect(v[1]).toBeCloseTo(0.99 * 0.01 + 0.01, 15);
  });

  it('the first bias-corrected step moves every parameter by lr, in the direction of sign g', () => {
    const theta = Float64Array.of(1, 1, 1);
    const g = Float64Array.of(3, -0.001, 40);
    const m = new Float64Array(3);
    const v = new Float64Array(3);
    updateMoments(m, v, g, 0.9, 0.999);
    adamStepInto(theta, m, v, 1, { beta1: 0.9, beta2: 0.999, eps: 0, lr: Float64Array.of(0.1, 0.1, 0.1), sign: -1 });
    for (let i = 0; i < 3; i++) expect(theta[i]).toBeCloseTo(1 - 0.1 * Math.sign(g[i]!), 12);
    expect(biasCorrection(0.9, 2)).toBeCloseTo(0.19, 15);
  });

  it("the paper's efficient form (training's) is the same step to rounding", () => {
    const b1 = 0.9;
    const b2 = 0.999;
    const eps = 1e-8;
    const lr = 0.01;
    const a = Float64Array.of(0.5, -2, 3);
    const b = Float64Array.from(a);
    const m = new Float64Array(3);
    const v = new Float64Array(3);
    let b1t = 1;
    let b2t = 1;
    for (let t = 1; t <= 50; t++) {
      const g = Float64Array.from(a, (x, i) => Math.sin(t + i) * x);
      updateMoments(m, v, g, b1, b2);
      adamStepInto(a, m, v, t, { beta1: b1, beta2: b2, eps, lr: new Float64Array(3).fill(lr), sign: -1 });
      b1t *= b1;
      b2t *= b2;
      const lrHat = (lr * Math.sqrt(1 - b2t)) / (1 - b1t);
      for (let i = 0; i < 3; i++) b[i] = b[i]! - (lrHat * m[i]!) / (Math.sqrt(v[i]!) + eps * Math.sqrt(1 - b2t));
    }
    for (let i = 0; i < 3; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-12);
  });
});
