// Test data shared by the engine implementations' tests (wasm.test.ts, native.test.ts).
import type { Activation, LossSpec } from '../types.js';

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
}

export function randArray(len: number, rnd: () => number, scale = 2): Float64Array {
  return Float64Array.from({ length: len }, () => scale * rnd());
}

export interface Case {
  name: string;
  sizes: number[];
  n: number;
  activation: Activation;
  bias: boolean;
  layerNorm: boolean;
  loss?: LossSpec;
  rows?: number[];
}

// Shapes chosen to hit every packing tail and special path of the wasm and native kernels:
// widths that are not multiples of any register tile (wasm 4 / 8, native 4 to 32 columns and 4 to
// 12 rows), output width 1 (dot-product forward, single-row dW), a batch of one row, input width
// 1 (rank-1 dH), layers and batches beyond the kc = 256 and mc = 64 / 96 blocking, batches
// spanning several 1024-row chunks, minibatches with repeated rows, and every way the backward
// pass gets the activation derivative (from the output: relu, tanh; stored: gelu, LayerNorm).
export const CASES: Case[] = [
  { name: 'odd widths 5-7-3', sizes: [5, 7, 3], n: 13, activation: 'tanh', bias: true, layerNorm: false },
  { name: 'output width 1, n = 1', sizes: [3, 9, 1], n: 1, activation: 'relu', bias: true, layerNorm: false },
  { name: 'n = 1 minibatch', sizes: [4, 6, 2], n: 1, activation: 'gelu', bias: true, layerNorm: true, rows: [0] },
  { name: 'no bias, LayerNorm, gelu', sizes: [6, 11, 13, 1], n: 17, activation: 'gelu', bias: false, layerNorm: true },
  { name: 'wider than the packing block', sizes: [3, 300, 2], n: 300, activation: 'relu', bias: true, layerNorm: false },
  { name: 'wide layer to width 1', sizes: [4, 261, 1], n: 5, activation: 'tanh', bias: true, layerNorm: false },
  { name: 'input width 1', sizes: [1, 6, 2], n: 9, activation: 'tanh', bias: true, layerNorm: false },
  { name: 'deep linear', sizes: [10, 10, 10, 10, 10], n: 37, activation: 'identity', bias: false, layerNorm: false },
  {
    name: 'minibatch with repeats',
    sizes: [5, 7, 3],
    n: 13,
    activation: 'relu',
    bias: true,
    layerNorm: false,
    rows: [0, 5, 5, 2, 12, 12, 12],
  },
  // Widths 17-40 straddle the narrow (unpacked) / packed switch at 16 (f64) and 32 (f32) columns.
  { name: 'packed and narrow paths', sizes: [20, 40, 17, 3], n: 50, activation: 'relu', bias: true, layerNorm: false },
  { name: 'gelu without LayerNorm', sizes: [7, 33, 18, 2], n: 40, activation: 'gelu', bias: true, layerNorm: false },
  { name: 'relu with LayerNorm', sizes: [5, 24, 9, 3], n: 30, activation: 'relu', bias: true, layerNorm: true },
  { name: 'linear with bias, rows beyond mc', sizes: [9, 65, 31], n: 230, activation: 'identity', bias: true, layerNorm: false },
  { name: 'full batch over several row chunks', sizes: [3, 12, 2], n: 2500, activation: 'tanh', bias: true, layerNorm: true },
  {
    name: 'minibatch over several row chunks',
    sizes: [3, 12, 1],
    n: 2500,
    activation: 'relu',
    bias: true,
    layerNorm: false,
    rows: Array.from({ length: 2100 }, (_, i) => (i * 13) % 1900),
  },
  {
    name: 'student-t, minibatch beyond kc',
    sizes: [2, 9, 2],
    n: 600,
    activation: 'tanh',
    bias: true,
    layerNorm: true,
    loss: { kind: 'student_t', nu: 3, sigma: 0.5 },
    rows: Array.from({ length: 530 }, (_, i) => (i * 7) % 600),
  },
];
