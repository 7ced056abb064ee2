/**
 * Synthetic teacher-student regression data. Every draw comes from a counter-based key
 * derived from (seed, purpose, sub-stream), so the data is a pure function of the resolved
 * config: inputs from Stream.data, the teacher from Stream.teacher, noise from Stream.noise.
 */
import { foldIn, keyAt, normalInto, randintInto, Stream, uniformInto, type Key } from '../rng/index.js';
import type { DataConfig, ResolvedTargetConfig } from '../config/resolve.js';
import type { MlpSpec } from '../engine/types.js';
import { forward, studentSpec, teacherParams, teacherSpec } from './networks.js';
import { tScalesInto } from './random.js';

export interface InputInfo {
  /** mixture: the k centres [k, d]. */
  centres?: Float64Array;
  /** lowdim_manifold: the embedding A [latent, d]. */
  A?: Float64Array;
}

/** Draws X [n, d] (row-major) from the configured input distribution. */
export function sampleInputs(cfg: DataConfig, d: number, k: Key): { X: Float64Array; info: InputInfo } {
  const n = cfg.n;
  const X = new Float64Array(n * d);
  const kMain = foldIn(k, 0);
  const kAux = foldIn(k, 1);
  const kIdx = foldIn(k, 2);
  switch (cfg.x_dist ?? 'gauss_iso') {
    case 'gauss_iso':
      normalInto(kMain, X);
      return { X, info: {} };
    case 'gauss_aniso': {
      normalInto(kMain, X);
      const decay = cfg.cov_decay!;
      for (let j = 0; j < d; j++) {
        const sd = Math.sqrt(decay ** j);
        for (let i = 0; i < n; i++) X[i * d + j] *= sd;
      }
      return { X, info: {} };
    }
    case 'mixture': {
      const K = cfg.mixture_k!;
      const spread = cfg.mixture_spread!;
      const centres = normalInto(kAux, new Float64Array(K * d));
      for (let c = 0; c < K; c++) {
        let norm = 0;
        for (let j = 0; j < d; j++) norm += centres[c * d + j]! ** 2;
        // The 1e-6 guards a (measure-zero) zero draw, as the Python system does.
        const s = spread / (1e-6 + Math.sqrt(norm));
        for (let j = 0; j < d; j++) centres[c * d + j] *= s;
      }
      const comp = randintInto(kIdx, new Int32Array(n), K);
      normalInto(kMain, X);
      for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) X[i * d + j] += centres[comp[i]! * d + j]!;
      return { X, info: { centres } };
    }
    case 'lowdim_manifold': {
      const m = cfg.x_dim_latent!;
      const Z = normalInto(kMain, new Float64Array(n * m));
      const A = normalInto(kAux, new Float64Array(m * d));
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < d; j++) {
          let s = 0;
          for (let c = 0; c < m; c++) s += Z[i * m + c]! * A[c * d + j]!;
          X[i * d + j] = Math.tanh(s);
        }
      }
      return { X, info: { A } };
    }
    case 'heavy_tail': {
      // Multivariate t: one chi-square scale per row, shared by its coordinates.
      const scales = tScalesInto(kAux, cfg.x_df!, new Float64Array(n));
      normalInto(kMain, X);
      for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) X[i * d + j] *= scales[i]!;
      return { X, info: {} };
    }
    case 'uniform': {
      const lo = cfg.uniform_low!;
      const hi = cfg.uniform_high!;
      uniformInto(kMain, X);
      for (let i = 0; i < X.length; i++) X[i] = lo + (hi - lo) * X[i]!;
      return { X, info: {} };
    }
  }
}

/** Adds label noise in place. */
export function addNoise(cfg: DataConfig, Y: Float64Array, X: Float64Array, n: number, d: number, k: Key): void {
  const outDim = Y.length / n;
  const sigma = cfg.noise_scale ?? 0;
  const eps = normalInto(foldIn(k, 0), new Float64Array(Y.length));
  switch (cfg.noise_model ?? 'gauss') {
    case 'gauss':
      for (let i = 0; i < Y.length; i++) Y[i] += sigma * eps[i]!;
      return;
    case 'hetero': {
      const s = cfg.hetero_scale!;
      for (let i = 0; i < n; i++) {
        let norm = 0;
        for (let j = 0; j < d; j++) norm += X[i * d + j]! ** 2;
        const scale = sigma * (1 + s * Math.sqrt(norm));
        for (let o = 0; o < outDim; o++) Y[i * outDim + o] += scale * eps[i * outDim + o]!;
      }
      return;
    }
    case 'student_t': {
      const t = tScalesInto(foldIn(k, 1), cfg.noise_df!, new Float64Array(Y.length));
      for (let i = 0; i < Y.length; i++) Y[i] += sigma * eps[i]! * t[i]!;
      return;
    }
    case 'outliers': {
      const u = uniformInto(foldIn(k, 1), new Float64Array(Y.length));
      const big = normalInto(foldIn(k, 2), new Float64Array(Y.length));
      const frac = cfg.outlier_frac!;
      const os = cfg.outlier_scale!;
      for (let i = 0; i < Y.length; i++) Y[i] += u[i]! < frac ? os * big[i]! : sigma * eps[i]!;
      return;
    }
  }
}

export interface GeneratedData {
  n: number;
  inDim: number;
  outDim: number;
  X: Float64Array;
  Y: Float64Array;
  /** Labels before dropout and noise. */
  Yclean: Float64Array;
  teacher: { spec: MlpSpec; theta: Float64Array } | null;
  info: InputInfo;
}

/**
 * The dataset of a resolved (non-quadratic) target. For float32 targets X and Y are rounded
 * to f32 here, so the stored files hold exactly the numbers the model is trained on.
 */
export function generateData(cfg: ResolvedTargetConfig): GeneratedData {
  const model = cfg.model;
  if (model.family === 'quadratic' || cfg.teacher === null) {
    throw new Error('the quadratic target has no data to generate');
  }
  const student = studentSpec(model)!;
  const inDim = student.sizes[0]!;
  const outDim = student.sizes[student.sizes.length - 1]!;
  const n = cfg.data.n;
  const { X, info } = sampleInputs(cfg.data, inDim, keyAt(cfg.seed, Stream.data));
  const tSpec = teacherSpec(cfg.teacher, inDim, outDim);
  // An MLP teacher is drawn as the student is (the Python system builds both with one builder).
  const tTheta = teacherParams(cfg.teacher, tSpec, cfg.seed, model.family === 'mlp' ? model.init ?? 'he' : 'he');
  const Yclean = forward(tSpec, tTheta, X, n);
  const Y = Float64Array.from(Yclean);
  if (cfg.teacher.dropout_rate > 0) {
    // A dropout mask on the teacher's outputs, unscaled, as in the Python system.
    const u = uniformInto(foldIn(keyAt(cfg.seed, Stream.teacher), 0xdead), new Float64Array(Y.length));
    for (let i = 0; i < Y.length; i++) if (u[i]! <= cfg.teacher.dropout_rate) Y[i] = 0;
  }
  addNoise(cfg.data, Y, X, n, inDim, keyAt(cfg.seed, Stream.noise));
  if (cfg.dtype === 'float32') {
    for (let i = 0; i < X.length; i++) X[i] = Math.fround(X[i]!);
    for (let i = 0; i < Y.length; i++) Y[i] = Math.fround(Y[i]!);
  }
  for (let i = 0; i < Y.length; i++) {
    if (!Number.isFinite(Y[i]!)) throw new Error(`generated label ${i} is not finite (${Y[i]}): check the teacher and noise settings`);
  }
  return { n, inDim, outDim, X, Y, Yclean, teacher: { spec: tSpec, theta: tTheta }, info };
}
