// Specs, initialisation and a plain forward pass for students and teachers. The teacher's
// forward runs once per target, so clarity beats speed here; the engine does the training.
import { foldIn, keyAt, normalInto, Stream, uniformInto, type Key } from '../rng/index.js';
import { GELU_A, GELU_C, LN_EPS, layerLayout, paramCount } from '../engine/spec.js';
import type { Activation, MlpSpec } from '../engine/types.js';
import type { ModelConfig, TeacherConfig } from '../config/resolve.js';
import { orthonormalColumns } from './random.js';

/** The engine spec of a student model (null for the quadratic target). */
export function studentSpec(model: ModelConfig): MlpSpec | null {
  switch (model.family) {
    case 'mlp':
      return {
        sizes: [model.in_dim, ...model.widths, model.out_dim],
        activation: model.activation,
        bias: model.bias,
        layerNorm: model.layernorm,
      };
    case 'dln':
      return { sizes: [model.in_dim, ...model.widths, model.out_dim], activation: 'identity', bias: false, layerNorm: false };
    case 'quadratic':
      return null;
  }
}

export function teacherSpec(teacher: TeacherConfig, inDim: number, outDim: number): MlpSpec {
  const sizes = [inDim, ...teacher.widths, outDim];
  if (teacher.family === 'dln') return { sizes, activation: 'identity', bias: false, layerNorm: false };
  return { sizes, activation: teacher.activation, bias: teacher.bias, layerNorm: false };
}

/** How an MLP's parameters are drawn (the resolved model's `init`; absent = 'he'). */
export type MlpInit = 'he' | 'uniform';

/**
 * 'he': He-normal weights (variance 2 / fan_in) for relu and gelu, LeCun-normal (1 / fan_in)
 * for tanh and identity, zero biases. 'uniform': weights and biases U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)), the Linear-layer default of Equinox and PyTorch, which is how the Python
 * system builds its teachers and students (its model presets' `init: he` is not read there).
 * Layer k's weights come from foldIn(key, k), its uniform biases from foldIn(key, 1000 + k).
 */
export function initParams(spec: MlpSpec, k: Key, scheme: MlpInit = 'he'): Float64Array {
  const theta = new Float64Array(paramCount(spec));
  if (scheme === 'uniform') {
    layerLayout(spec).forEach((L, idx) => {
      const lim = 1 / Math.sqrt(L.fanIn);
      const w = uniformInto(foldIn(k, idx), new Float64Array(L.fanIn * L.fanOut));
      for (let i = 0; i < w.length; i++) theta[L.wOff + i] = lim * (2 * w[i]! - 1);
      if (L.bOff >= 0) {
        const b = uniformInto(foldIn(k, 1000 + idx), new Float64Array(L.fanOut));
        for (let i = 0; i < b.length; i++) theta[L.bOff + i] = lim * (2 * b[i]! - 1);
      }
    });
    return theta;
  }
  const gain2 = spec.activation === 'relu' || spec.activation === 'gelu' ? 2 : 1;
  layerLayout(spec).forEach((L, idx) => {
    const w = normalInto(foldIn(k, idx), new Float64Array(L.fanIn * L.fanOut));
    const sd = Math.sqrt(gain2 / L.fanIn);
    for (let i = 0; i < w.length; i++) theta[L.wOff + i] = sd * w[i]!;
  });
  return theta;
}

/** Student initial parameters for training from a random init. */
export function studentInit(spec: MlpSpec, seed: number, scheme: MlpInit = 'he'): Float64Array {
  return initParams(spec, keyAt(seed, Stream.init), scheme);
}

/**
 * Deep linear teacher whose product W_L ... W_1 has exact rank r: with Q_k [s_k, r]
 * orthonormal columns and D_k diagonal with entries in [0.75, 1.25],
 *   W_k = Q_k D_k Q_{k-1}^T,  so  W_L ... W_1 = Q_L (D_L ... D_1) Q_0^T,
 * whose singular values are the products of the D entries (all > 0.75^L). Every factor has
 * rank r too, so w* sits on the most singular part of the set of true parameters (r = 0 is
 * the origin), which is where the local coefficient equals Aoyagi's global one.
 */
export function dlnTeacherParams(spec: MlpSpec, rank: number, k: Key): Float64Array {
  const sizes = spec.sizes;
  const theta = new Float64Array(paramCount(spec));
  if (rank === 0) return theta;
  const L = sizes.length - 1;
  const Q = sizes.map((s, i) => orthonormalColumns(foldIn(k, i), s, rank));
  const layout = layerLayout(spec);
  for (let l = 1; l <= L; l++) {
    const D = uniformInto(foldIn(k, 1000 + l), new Float64Array(rank)).map((u) => 0.75 + 0.5 * u);
    const out = sizes[l]!;
    const inn = sizes[l - 1]!;
    const Qo = Q[l]!;
    const Qi = Q[l - 1]!;
    const off = layout[l - 1]!.wOff;
    for (let i = 0; i < out; i++) {
      for (let j = 0; j < inn; j++) {
        let s = 0;
        for (let c = 0; c < rank; c++) s += Qo[i * rank + c]! * D[c]! * Qi[j * rank + c]!;
        theta[off + i * inn + j] = s;
      }
    }
  }
  return theta;
}

export function teacherParams(teacher: TeacherConfig, spec: MlpSpec, seed: number, scheme: MlpInit = 'he'): Float64Array {
  const k = keyAt(seed, Stream.teacher);
  return teacher.family === 'dln' ? dlnTeacherParams(spec, teacher.rank, k) : initParams(spec, k, scheme);
}

function activate(a: Activation, x: number): number {
  switch (a) {
    case 'relu':
      return x > 0 ? x : 0;
    case 'tanh':
      return Math.tanh(x);
    case 'gelu':
      return 0.5 * x * (1 + Math.tanh(GELU_C * (x + GELU_A * x * x * x)));
    case 'identity':
      return x;
  }
}

/** Outputs [rows, out] of the network at theta for inputs X [rows, in] (row-major, f64). */
export function forward(spec: MlpSpec, theta: Float64Array, X: Float64Array, rows: number): Float64Array {
  let h = X;
  const layers = layerLayout(spec);
  layers.forEach((L, idx) => {
    const last = idx === layers.length - 1;
    const next = new Float64Array(rows * L.fanOut);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < L.fanOut; o++) {
        let s = L.bOff >= 0 ? theta[L.bOff + o]! : 0;
        const w = L.wOff + o * L.fanIn;
        for (let i = 0; i < L.fanIn; i++) s += theta[w + i]! * h[r * L.fanIn + i]!;
        next[r * L.fanOut + o] = last ? s : activate(spec.activation, s);
      }
      if (!last && spec.layerNorm) {
        let mean = 0;
        for (let o = 0; o < L.fanOut; o++) mean += next[r * L.fanOut + o]!;
        mean /= L.fanOut;
        let v = 0;
        for (let o = 0; o < L.fanOut; o++) v += (next[r * L.fanOut + o]! - mean) ** 2;
        const rstd = 1 / Math.sqrt(v / L.fanOut + LN_EPS);
        for (let o = 0; o < L.fanOut; o++) next[r * L.fanOut + o] = (next[r * L.fanOut + o]! - mean) * rstd;
      }
    }
    h = next;
  });
  return h;
}

/** Row-major product W_L ... W_1 ([out, in]) of a bias-free linear network. */
export function dlnProduct(spec: MlpSpec, theta: Float64Array): Float64Array {
  const layers = layerLayout(spec);
  const inDim = spec.sizes[0]!;
  let P = new Float64Array(inDim * inDim);
  for (let i = 0; i < inDim; i++) P[i * inDim + i] = 1;
  const cols = inDim;
  let rowsP = inDim;
  for (const L of layers) {
    const next = new Float64Array(L.fanOut * cols);
    for (let o = 0; o < L.fanOut; o++) {
      for (let c = 0; c < cols; c++) {
        let s = 0;
        for (let i = 0; i < rowsP; i++) s += theta[L.wOff + o * L.fanIn + i]! * P[i * cols + c]!;
        next[o * cols + c] = s;
      }
    }
    P = next;
    rowsP = L.fanOut;
  }
  return P;
}
