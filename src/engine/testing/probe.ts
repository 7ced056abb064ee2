// One small gradient, computed with the default engine, for tests that compare the numbers of
// different threads and processes (they import this file and must get identical bits).
import { createModel } from '../index.js';
import type { DType } from '../types.js';

export interface ProbeResult {
  impl: string;
  kernels: string;
  loss: number;
  grad: number[];
}

export function gradientProbe(): Record<DType, ProbeResult> {
  const n = 300;
  const sizes = [7, 45, 19, 2];
  let s = 5;
  const r = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296 - 0.5;
  const data = { n, inDim: 7, outDim: 2, X: Float64Array.from({ length: n * 7 }, r), Y: Float64Array.from({ length: n * 2 }, r) };
  const out: Partial<Record<DType, ProbeResult>> = {};
  for (const dtype of ['float64', 'float32'] as const) {
    const m = createModel({ spec: { sizes, activation: 'gelu', bias: true, layerNorm: false }, data, loss: { kind: 'mse' }, dtype });
    const theta = Float64Array.from({ length: m.dim }, r);
    const g = new Float64Array(m.dim);
    const loss = m.lossAndGrad(theta, g);
    out[dtype] = { impl: m.impl, kernels: m.kernels, loss, grad: Array.from(g) };
    m.dispose();
  }
  return { float64: out.float64!, float32: out.float32! };
}
