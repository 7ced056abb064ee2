/**
 * Networks "trained elsewhere" whose learning coefficient is known exactly, written to disk as
 * PyTorch and numpy write them (safetensors of an nn.Sequential state_dict, numpy.savez data),
 * for the `llc` validation suites:
 *
 * - logistic: multinomial logistic regression nn.Linear(d, K) at its maximum-likelihood
 *   estimate, cross-entropy over softmax logits: lambda = (K - 1)(d + 1) / 2 (the softmax
 *   ignores a shift shared by all classes, so K(d + 1) parameters carry (K - 1)(d + 1)
 *   directions); binary logistic regression nn.Linear(d, 1) on a single logit: (d + 1) / 2.
 * - mlp-head: an MLP whose last layer is restricted (`--restrict <last module>`), the hidden
 *   layers fixed: the model is multinomial logistic regression on the hidden features, so at
 *   the restricted MLE lambda = (K - 1)(h + 1) / 2 with h the last hidden width.
 * - restricted DLN: a deep linear network nn.Sequential(Linear(bias=False), ...) restricted to
 *   layer k: f = A W_k B x with A the product of the layers after k and B of those before, linear
 *   in W_k, so lambda = rank(A) rank(B) / 2 (x has full-rank covariance). Noisy labels whose
 *   residual is orthogonal to the columns of X keep w* an exact critical point of L_n.
 *
 * Every draw is seeded (threefry keys), so a suite is reproducible case by case.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyAt, normalInto, Stream, uniformInto } from '../rng/index.js';
import { orthonormalColumns } from '../targets/random.js';
import { npyBytes, npzBytes, torchSafetensors, type TorchTensor } from '../io/testing/python-bytes.js';

export interface OwnModelCase {
  name: string;
  family: 'logistic' | 'mlp-head' | 'restricted-dln';
  model: string;
  data: string;
  activation: 'identity' | 'tanh';
  restrict?: string[];
  truth: number;
  /** Parameters sampled. */
  d: number;
  n: number;
  /** Gradient norm of L_n at w* along the sampled parameters (a check on the construction). */
  gradNorm: number;
  /**
   * The value the default localized posterior gives a quadratic with this Hessian,
   * (1/2) sum_i n beta h_i / (n beta h_i + gamma) (beta = 1/ln n, gamma = 1): below the truth when
   * some curvature h_i is not large against gamma / (n beta). Absent when not computed.
   */
  localized?: number;
}

/**
 * (1/2) tr(nB H (nB H + gamma I)^-1) for the cross-entropy Hessian H of the K logit rows
 * (full parametrisation, bias column included) at W, b on features F: the localized posterior's
 * expected n beta (L - L0) for the quadratic approximation of L at w*.
 */
export function localizedLogisticLambda(F: Float64Array, n: number, h: number, W: Float64Array, b: Float64Array, Kout: number): number {
  const p = h + 1;
  const m = Kout * p;
  const H = new Float64Array(m * m);
  const x = new Float64Array(p);
  const prob = new Float64Array(Kout);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < h; j++) x[j] = F[i * h + j]!;
    x[h] = 1;
    for (let c = 0; c < Kout; c++) {
      let z = b[c]!;
      for (let j = 0; j < h; j++) z += W[c * h + j]! * x[j]!;
      prob[c] = z;
    }
    if (Kout === 1) {
      prob[0] = 1 / (1 + Math.exp(-prob[0]!));
    } else {
      const mx = Math.max(...prob);
      let den = 0;
      for (let c = 0; c < Kout; c++) den += Math.exp(prob[c]! - mx);
      for (let c = 0; c < Kout; c++) prob[c] = Math.exp(prob[c]! - mx) / den;
    }
    for (let c = 0; c < Kout; c++) {
      for (let c2 = 0; c2 < Kout; c2++) {
        const w = Kout === 1 ? prob[0]! * (1 - prob[0]!) : (c === c2 ? prob[c]! : 0) - prob[c]! * prob[c2]!;
        if (w === 0) continue;
        for (let j = 0; j < p; j++) {
          const wx = (w * x[j]!) / n;
          const row = (c * p + j) * m + c2 * p;
          for (let k = 0; k < p; k++) H[row + k] = H[row + k]! + wx * x[k]!;
        }
      }
    }
  }
  const nBeta = n / Math.log(n);
  const gamma = 1;
  const S = H.map((v) => nBeta * v);
  for (let i = 0; i < m; i++) S[i * m + i] = S[i * m + i]! + gamma;
  let tr = 0;
  for (let i = 0; i < m; i++) {
    const e = new Float64Array(m);
    e[i] = 1;
    tr += solveSpd(S, e, m)[i]!;
  }
  return 0.5 * (m - gamma * tr);
}

function normals(seed: number, purpose: number, len: number): Float64Array {
  return normalInto(keyAt(seed, Stream.data, purpose), new Float64Array(len));
}

function uniforms(seed: number, purpose: number, len: number): Float64Array {
  return uniformInto(keyAt(seed, Stream.data, purpose), new Float64Array(len));
}

/** Solves S x = b for symmetric positive definite S (Cholesky), in place of b. */
function solveSpd(S: Float64Array, b: Float64Array, m: number): Float64Array {
  const L = Float64Array.from(S);
  for (let j = 0; j < m; j++) {
    let s = L[j * m + j]!;
    for (let k = 0; k < j; k++) s -= L[j * m + k]! ** 2;
    if (!(s > 0)) throw new Error('matrix is not positive definite (the data separate the classes?)');
    const d = Math.sqrt(s);
    L[j * m + j] = d;
    for (let i = j + 1; i < m; i++) {
      let t = L[i * m + j]!;
      for (let k = 0; k < j; k++) t -= L[i * m + k]! * L[j * m + k]!;
      L[i * m + j] = t / d;
    }
  }
  const x = Float64Array.from(b);
  for (let i = 0; i < m; i++) {
    let t = x[i]!;
    for (let k = 0; k < i; k++) t -= L[i * m + k]! * x[k]!;
    x[i] = t / L[i * m + i]!;
  }
  for (let i = m - 1; i >= 0; i--) {
    let t = x[i]!;
    for (let k = i + 1; k < m; k++) t -= L[k * m + i]! * x[k]!;
    x[i] = t / L[i * m + i]!;
  }
  return x;
}

/**
 * Rank of a [r, c] matrix by Gaussian elimination with full pivoting. The tolerance (1e-5 of the
 * largest entry) is far above float32 rounding (the saved weights are float32, which turns an
 * exactly low-rank product into a full-rank one with singular values ~1e-7) and far below the
 * singular values the constructions keep (>= 0.75^depth).
 */
export function matrixRank(M: Float64Array, r: number, c: number): number {
  const A = Float64Array.from(M);
  const scale = Math.max(1e-300, ...Array.from(A, Math.abs));
  let rank = 0;
  const rowUsed = new Array<boolean>(r).fill(false);
  const colUsed = new Array<boolean>(c).fill(false);
  for (;;) {
    let best = 0;
    let bi = -1;
    let bj = -1;
    for (let i = 0; i < r; i++) {
      if (rowUsed[i]) continue;
      for (let j = 0; j < c; j++) {
        if (colUsed[j]) continue;
        const v = Math.abs(A[i * c + j]!);
        if (v > best) [best, bi, bj] = [v, i, j];
      }
    }
    if (bi < 0 || best <= 1e-5 * scale) return rank;
    rank++;
    rowUsed[bi] = true;
    colUsed[bj] = true;
    for (let i = 0; i < r; i++) {
      if (rowUsed[i]) continue;
      const f = A[i * c + bj]! / A[bi * c + bj]!;
      for (let j = 0; j < c; j++) A[i * c + j] = A[i * c + j]! - f * A[bi * c + j]!;
    }
  }
}

/** [a, b] x [b, c] row-major. */
function matmul(A: Float64Array, B: Float64Array, a: number, b: number, c: number): Float64Array {
  const out = new Float64Array(a * c);
  for (let i = 0; i < a; i++) for (let k = 0; k < b; k++) {
    const v = A[i * b + k]!;
    if (v !== 0) for (let j = 0; j < c; j++) out[i * c + j] = out[i * c + j]! + v * B[k * c + j]!;
  }
  return out;
}

function identity(m: number): Float64Array {
  const I = new Float64Array(m * m);
  for (let i = 0; i < m; i++) I[i * m + i] = 1;
  return I;
}

/** Rounds to float32, as a tensor saved in PyTorch's default dtype. */
function f32(a: Float64Array): Float64Array {
  return a.map((v) => Math.fround(v));
}

/**
 * Multinomial logistic MLE on features F [n, h] (a bias column is added) with labels in 0..K-1
 * (K = 1: binary labels 0/1 on a single logit). Newton on the identifiable parametrisation
 * (class 0's logit fixed at 0), then written as the K rows of an nn.Linear(h, K) (row 0 = 0).
 * Returns weight [Kout, h], bias [Kout] and the final gradient norm (mean loss).
 */
export function logisticMle(F: Float64Array, labels: Int32Array, n: number, h: number, K: number): { W: Float64Array; b: Float64Array; gradNorm: number } {
  const C = K === 1 ? 1 : K - 1; // free logit rows
  const p = h + 1;
  const m = C * p;
  const V = new Float64Array(m);
  const x = new Float64Array(p);
  const prob = new Float64Array(C);
  let gradNorm = Infinity;
  for (let iter = 0; iter < 100 && gradNorm > 1e-12; iter++) {
    const g = new Float64Array(m);
    const H = new Float64Array(m * m);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < h; j++) x[j] = F[i * h + j]!;
      x[h] = 1;
      let mx = 0;
      const z = new Float64Array(C);
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let j = 0; j < p; j++) s += V[c * p + j]! * x[j]!;
        z[c] = s;
        mx = Math.max(mx, s);
      }
      let den = Math.exp(-mx);
      for (let c = 0; c < C; c++) den += Math.exp(z[c]! - mx);
      for (let c = 0; c < C; c++) prob[c] = Math.exp(z[c]! - mx) / den;
      const y = labels[i]!;
      for (let c = 0; c < C; c++) {
        const target = K === 1 ? y : y === c + 1 ? 1 : 0;
        const r = prob[c]! - target;
        for (let j = 0; j < p; j++) g[c * p + j] = g[c * p + j]! + (r * x[j]!) / n;
        for (let c2 = 0; c2 < C; c2++) {
          const w = (c === c2 ? prob[c]! : 0) - prob[c]! * prob[c2]!;
          if (w === 0) continue;
          for (let j = 0; j < p; j++) {
            const wx = (w * x[j]!) / n;
            const row = (c * p + j) * m + c2 * p;
            for (let k = 0; k < p; k++) H[row + k] = H[row + k]! + wx * x[k]!;
          }
        }
      }
    }
    gradNorm = Math.hypot(...g);
    const step = solveSpd(H, g, m);
    for (let k = 0; k < m; k++) V[k] = V[k]! - step[k]!;
  }
  const Kout = K === 1 ? 1 : K;
  const W = new Float64Array(Kout * h);
  const b = new Float64Array(Kout);
  for (let c = 0; c < C; c++) {
    const row = K === 1 ? 0 : c + 1;
    for (let j = 0; j < h; j++) W[row * h + j] = V[c * p + j]!;
    b[row] = V[c * p + h]!;
  }
  return { W, b, gradNorm };
}

/** Labels drawn from the softmax of logits [n, K] (K = 1: a sigmoid on one logit). */
function sampleLabels(logits: Float64Array, n: number, K: number, u: Float64Array): Int32Array {
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (K === 1) {
      y[i] = u[i]! < 1 / (1 + Math.exp(-logits[i]!)) ? 1 : 0;
      continue;
    }
    let mx = -Infinity;
    for (let c = 0; c < K; c++) mx = Math.max(mx, logits[i * K + c]!);
    let den = 0;
    for (let c = 0; c < K; c++) den += Math.exp(logits[i * K + c]! - mx);
    let acc = 0;
    y[i] = K - 1;
    for (let c = 0; c < K; c++) {
      acc += Math.exp(logits[i * K + c]! - mx) / den;
      if (u[i]! < acc) {
        y[i] = c;
        break;
      }
    }
  }
  return y;
}

function saveData(dir: string, X: Float64Array, n: number, d: number, y: { labels: Int32Array } | { Y: Float64Array; q: number }, compressed: boolean): string {
  const members: Record<string, Uint8Array> = { X: npyBytes('<f8', [n, d], X) };
  if ('labels' in y) members.y = npyBytes('<i8', [n], y.labels);
  else members.Y = npyBytes('<f8', [n, y.q], y.Y);
  const path = join(dir, 'data.npz');
  writeFileSync(path, npzBytes(members, compressed));
  return path;
}

function saveModel(dir: string, tensors: Record<string, TorchTensor>): string {
  const path = join(dir, 'model.safetensors');
  writeFileSync(path, torchSafetensors(tensors, { format: 'pt' }));
  return path;
}

/** Logistic regression case `index` of a family seed: d in [2, 8], K in {1 (binary logit), 2..5}, n in [1000, 4000]. */
export function logisticCase(dir: string, seed: number, index: number): OwnModelCase {
  mkdirSync(dir, { recursive: true });
  const s = seed * 1000 + index;
  const u = uniforms(s, 0, 4);
  const d = 2 + Math.floor(u[0]! * 7);
  const K = [1, 2, 3, 4, 5][Math.floor(u[1]! * 5)]!;
  const n = 1000 + 500 * Math.floor(u[2]! * 7);
  const X = normals(s, 1, n * d);
  const q = K === 1 ? 1 : K;
  // Teacher logits of moderate size (classes overlap: the MLE exists).
  const W0 = normals(s, 2, q * d).map((v) => v / Math.sqrt(d));
  const logits = matmul(X, transpose(W0, q, d), n, d, q);
  const labels = sampleLabels(logits, n, K, uniforms(s, 3, n));
  const mle = logisticMle(X, labels, n, d, K);
  const model = saveModel(dir, {
    '0.weight': { dtype: 'F32', shape: [q, d], values: f32(mle.W) },
    '0.bias': { dtype: 'F32', shape: [q], values: f32(mle.b) },
  });
  const data = saveData(dir, X, n, d, { labels }, index % 2 === 1);
  const truth = K === 1 ? (d + 1) / 2 : ((K - 1) * (d + 1)) / 2;
  const name = K === 1 ? `binary logistic d=${d} n=${n}` : `logistic d=${d} K=${K} n=${n}`;
  const localized = localizedLogisticLambda(X, n, d, f32(mle.W), f32(mle.b), q);
  return { name, family: 'logistic', model, data, activation: 'identity', truth, d: q * (d + 1), n, gradNorm: mle.gradNorm, localized };
}

function transpose(A: Float64Array, r: number, c: number): Float64Array {
  const T = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) T[j * r + i] = A[i * c + j]!;
  return T;
}

/** An MLP d-h-K (tanh, d in [3, 7], h in [2, d]) whose last layer is the logistic MLE on the fixed hidden features. */
export function mlpHeadCase(dir: string, seed: number, index: number): OwnModelCase {
  mkdirSync(dir, { recursive: true });
  const s = seed * 1000 + 500 + index;
  const u = uniforms(s, 0, 4);
  // h <= d and W1 of full rank: the hidden features are not collinear, so every direction of
  // the head is curved well above gamma / (n beta) and the asymptotic value applies at this n.
  const d = 3 + Math.floor(u[0]! * 5);
  const h = 2 + Math.floor(u[1]! * (d - 1));
  const K = 2 + Math.floor(u[2]! * 3);
  const n = 3000 + 1000 * Math.floor(u[3]! * 4);
  const X = normals(s, 1, n * d);
  const W1 = f32(normals(s, 2, h * d).map((v) => v / Math.sqrt(d)));
  const b1 = f32(normals(s, 3, h).map((v) => 0.3 * v));
  const Hf = matmul(X, transpose(W1, h, d), n, d, h);
  for (let i = 0; i < n; i++) for (let j = 0; j < h; j++) Hf[i * h + j] = Math.tanh(Hf[i * h + j]! + b1[j]!);
  const W0 = normals(s, 4, K * h).map((v) => v / Math.sqrt(h));
  const labels = sampleLabels(matmul(Hf, transpose(W0, K, h), n, h, K), n, K, uniforms(s, 5, n));
  const mle = logisticMle(Hf, labels, n, h, K);
  // Row 0 of the head is 0 and stays exactly 0 in float32; the others are rounded, which moves
  // w* off the MLE by ~1e-7 relative: a gradient far below the 1e-3 warning threshold.
  const model = saveModel(dir, {
    '0.weight': { dtype: 'F32', shape: [h, d], values: W1 },
    '0.bias': { dtype: 'F32', shape: [h], values: b1 },
    '2.weight': { dtype: 'F32', shape: [K, h], values: f32(mle.W) },
    '2.bias': { dtype: 'F32', shape: [K], values: f32(mle.b) },
  });
  const data = saveData(dir, X, n, d, { labels }, false);
  return {
    name: `mlp ${d}-${h}-${K} tanh, last layer n=${n}`,
    family: 'mlp-head',
    model,
    data,
    activation: 'tanh',
    restrict: ['2'],
    truth: ((K - 1) * (h + 1)) / 2,
    d: K * (h + 1),
    n,
    gradNorm: mle.gradNorm,
    localized: localizedLogisticLambda(Hf, n, h, f32(mle.W), f32(mle.b), K),
  };
}

/**
 * A deep linear network of 2-4 layers (widths 2-6), each layer of random rank, restricted to
 * one random layer k.
 */
export function restrictedDlnCase(dir: string, seed: number, index: number): OwnModelCase {
  mkdirSync(dir, { recursive: true });
  const s = seed * 1000 + index;
  const u = uniforms(s, 0, 16);
  const L = 2 + Math.floor(u[0]! * 3);
  const widths = Array.from({ length: L + 1 }, (_, i) => 2 + Math.floor(u[1 + i]! * 5));
  const k = Math.floor(u[7]! * L);
  const n = 1000 + 500 * Math.floor(u[8]! * 5);
  // W_l = Q_{l+1}[:, :r_l] diag(s_l) Q_l[:, :r_l]^T with one orthogonal basis Q_l per width and
  // s in [0.75, 1.25]: the layers' subspaces nest, so every nonzero singular value of a product
  // (A, B) is at least 0.75^depth and every direction the rank counts is curved well above
  // gamma / (n beta) at these n (random subspaces could meet at a tiny angle instead).
  const Q = widths.map((w, l) => orthonormalColumns(keyAt(s, Stream.teacher, l), w, w));
  const cols = (l: number, r: number): Float64Array => {
    const w = widths[l]!;
    const out = new Float64Array(w * r);
    for (let i = 0; i < w; i++) for (let j = 0; j < r; j++) out[i * r + j] = Q[l]![i * w + j]!;
    return out;
  };
  const layers: Float64Array[] = [];
  for (let l = 0; l < L; l++) {
    const out = widths[l + 1]!;
    const inn = widths[l]!;
    const r = 1 + Math.floor(u[9 + l]! * Math.min(out, inn));
    const sv = uniforms(s, 10 + l, r).map((v) => 0.75 + 0.5 * v);
    const US = cols(l + 1, r).map((v, i) => v * sv[i % r]!);
    layers.push(f32(matmul(US, transpose(cols(l, r), inn, r), out, r, inn)));
  }
  // A = W_L ... W_{k+1} [out, w_{k+1}], B = W_{k-1} ... W_1 [w_k, in].
  let A = identity(widths[L]!);
  for (let l = L - 1; l > k; l--) A = matmul(A, layers[l]!, widths[L]!, widths[l + 1]!, widths[l]!);
  let B = identity(widths[0]!);
  for (let l = 0; l < k; l++) B = matmul(layers[l]!, B, widths[l + 1]!, widths[l]!, widths[0]!);
  const rankA = matrixRank(A, widths[L]!, widths[k + 1]!);
  const rankB = matrixRank(B, widths[k]!, widths[0]!);
  const d = widths[0]!;
  const q = widths[L]!;
  const X = normals(s, 30, n * d);
  // f(X) = X M^T with M = W_L ... W_1.
  let M = identity(d);
  for (let l = 0; l < L; l++) M = matmul(layers[l]!, M, widths[l + 1]!, widths[l]!, d);
  const Y = matmul(X, transpose(M, q, d), n, d, q);
  // Label noise projected off the columns of X: X^T R = 0 makes every layer's gradient 0 at w*.
  const R = normals(s, 31, n * q).map((v) => 0.1 * v);
  const XtX = matmul(transpose(X, n, d), X, d, n, d);
  const XtR = matmul(transpose(X, n, d), R, d, n, q);
  const coef = new Float64Array(d * q);
  for (let c = 0; c < q; c++) {
    const col = solveSpd(XtX, Float64Array.from({ length: d }, (_, j) => XtR[j * q + c]!), d);
    for (let j = 0; j < d; j++) coef[j * q + c] = col[j]!;
  }
  const proj = matmul(X, coef, n, d, q);
  for (let i = 0; i < n * q; i++) Y[i] = Y[i]! + R[i]! - proj[i]!;
  // The restricted loss is exactly quadratic: H = (2/q) (A^T A) (x) (B (X^T X / n) B^T).
  const wo = widths[k + 1]!;
  const wi = widths[k]!;
  const AtA = matmul(transpose(A, q, wo), A, wo, q, wo);
  const C = matmul(matmul(B, XtX, wi, d, d), transpose(B, wi, d), wi, d, wi).map((v) => v / n);
  const m = wo * wi;
  const S = new Float64Array(m * m);
  const nBeta = n / Math.log(n);
  for (let o = 0; o < wo; o++) for (let j = 0; j < wi; j++) for (let o2 = 0; o2 < wo; o2++) for (let j2 = 0; j2 < wi; j2++) {
    S[(o * wi + j) * m + o2 * wi + j2] = (nBeta * 2 * AtA[o * wo + o2]! * C[j * wi + j2]!) / q + (o === o2 && j === j2 ? 1 : 0);
  }
  let tr = 0;
  for (let i = 0; i < m; i++) {
    const e = new Float64Array(m);
    e[i] = 1;
    tr += solveSpd(S, e, m)[i]!;
  }
  const localized = 0.5 * (m - tr);
  const tensors: Record<string, TorchTensor> = {};
  layers.forEach((w, l) => {
    tensors[`${l}.weight`] = { dtype: 'F32', shape: [widths[l + 1]!, widths[l]!], values: w };
  });
  const model = saveModel(dir, tensors);
  const data = saveData(dir, X, n, d, { Y, q }, index % 2 === 1);
  return {
    name: `dln ${widths.join('-')} layer ${k} (rank A ${rankA}, rank B ${rankB}) n=${n}`,
    family: 'restricted-dln',
    model,
    data,
    activation: 'identity',
    restrict: [String(k)],
    truth: (rankA * rankB) / 2,
    d: widths[k + 1]! * widths[k]!,
    n,
    gradNorm: 0,
    localized,
  };
}
