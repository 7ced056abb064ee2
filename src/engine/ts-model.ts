// Plain TypeScript engine: the reference the wasm kernels are tested against, and the fallback
// when wasm is unavailable. Written for clarity first; loop orders keep the innermost loop on
// contiguous memory so it is not needlessly slow. For float32 the buffers are Float32Array, so
// every stored intermediate is rounded to f32, but the arithmetic inside a dot product is JS
// double: it models f32 storage, not f32 accumulation.
import {
  GELU_A,
  GELU_C,
  LN_EPS,
  checkGrad,
  checkPredictInput,
  checkRows,
  checkTheta,
  ModelBase,
} from './spec.js';
import { ACTIVATION_CODE, type CreateModelOptions, type NetworkModel } from './types.js';

type Arr = Float64Array | Float32Array;

const ACT_IDENTITY = ACTIVATION_CODE.identity;
const ACT_RELU = ACTIVATION_CODE.relu;
const ACT_TANH = ACTIVATION_CODE.tanh;
const ACT_GELU = ACTIVATION_CODE.gelu;

export class TsModel extends ModelBase implements NetworkModel {
  readonly impl = 'ts' as const;
  readonly kernels = 'ts' as const;

  private readonly X: Arr;
  private readonly Y: Float64Array;
  /** f32 copy of theta (f64 models read theta directly). */
  private readonly P: Arr | null;
  private readonly G: Arr;
  private readonly h0: Arr;
  /** hs[k] is the input of layer k (hs[0] is the gathered input or X itself). */
  private readonly hs: Arr[];
  /** Activation derivative act'(z) per hidden layer, filled by the forward pass when needed. */
  private readonly ds: Arr[];
  /** 1 / std per row for each hidden LayerNorm. */
  private readonly rstd: Arr[];
  private readonly out: Arr;
  private readonly dA: Arr;
  private readonly dB: Arr;
  private disposed = false;

  constructor(opts: CreateModelOptions) {
    super(opts);
    const sizes = opts.spec.sizes;
    const mk = (len: number): Arr => (opts.dtype === 'float32' ? new Float32Array(len) : new Float64Array(len));
    const n = this.n;
    this.X = opts.dtype === 'float32' ? Float32Array.from(opts.data.X) : Float64Array.from(opts.data.X);
    this.Y = Float64Array.from(opts.data.Y);
    this.P = opts.dtype === 'float32' ? new Float32Array(this.dim) : null;
    this.G = mk(this.dim);
    this.h0 = mk(n * this.inDim);
    this.hs = [this.h0];
    this.ds = [];
    this.rstd = [];
    for (let k = 1; k + 1 < sizes.length; k++) {
      this.hs.push(mk(n * sizes[k]!));
      this.ds.push(mk(n * sizes[k]!));
      this.rstd.push(mk(n));
    }
    this.out = mk(n * this.outDim);
    const maxW = Math.max(...sizes);
    this.dA = mk(n * maxW);
    this.dB = mk(n * maxW);
  }

  private params(theta: Float64Array): Arr {
    if (this.P === null) return theta;
    this.P.set(theta);
    return this.P;
  }

  private alive(): void {
    if (this.disposed) throw new Error('model has been disposed');
  }

  /** Fills hs[0] with the batch and returns its row count. */
  private gather(rows: Int32Array | undefined): number {
    const d = this.inDim;
    if (rows === undefined) {
      this.hs[0] = this.X;
      return this.n;
    }
    const h0 = this.h0;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      for (let j = 0; j < d; j++) h0[i * d + j] = this.X[r * d + j]!;
    }
    this.hs[0] = h0;
    return rows.length;
  }

  private forward(P: Arr, m: number, needDeriv: boolean): void {
    const L = this.layers.length;
    for (let k = 0; k < L; k++) {
      const { fanIn, fanOut, wOff, bOff } = this.layers[k]!;
      const hin = this.hs[k]!;
      const z = k + 1 < L ? this.hs[k + 1]! : this.out;
      // z[i, o] = b[o] + sum_j hin[i, j] W[o, j], four outputs at a time: four independent
      // sums keep the adder busy (one running sum waits on its own latency every step).
      for (let i = 0; i < m; i++) {
        const ri = i * fanIn;
        const zi = i * fanOut;
        let o = 0;
        for (; o + 4 <= fanOut; o += 4) {
          const w0 = wOff + o * fanIn;
          const w1 = w0 + fanIn;
          const w2 = w1 + fanIn;
          const w3 = w2 + fanIn;
          let s0 = 0;
          let s1 = 0;
          let s2 = 0;
          let s3 = 0;
          for (let j = 0; j < fanIn; j++) {
            const h = hin[ri + j]!;
            s0 += h * P[w0 + j]!;
            s1 += h * P[w1 + j]!;
            s2 += h * P[w2 + j]!;
            s3 += h * P[w3 + j]!;
          }
          if (bOff >= 0) {
            s0 += P[bOff + o]!;
            s1 += P[bOff + o + 1]!;
            s2 += P[bOff + o + 2]!;
            s3 += P[bOff + o + 3]!;
          }
          z[zi + o] = s0;
          z[zi + o + 1] = s1;
          z[zi + o + 2] = s2;
          z[zi + o + 3] = s3;
        }
        for (; o < fanOut; o++) {
          const wo = wOff + o * fanIn;
          let s = 0;
          for (let j = 0; j < fanIn; j++) s += hin[ri + j]! * P[wo + j]!;
          z[zi + o] = bOff >= 0 ? s + P[bOff + o]! : s;
        }
      }
      if (k + 1 < L) this.hidden(z, this.ds[k]!, this.rstd[k]!, m, fanOut, needDeriv);
    }
  }

  /** Activation then optional LayerNorm, in place on z. */
  private hidden(z: Arr, d: Arr, rstd: Arr, m: number, w: number, needDeriv: boolean): void {
    const len = m * w;
    switch (this.act) {
      case ACT_RELU:
        for (let i = 0; i < len; i++) {
          const v = z[i]!;
          if (needDeriv) d[i] = v > 0 ? 1 : 0;
          z[i] = v > 0 ? v : 0;
        }
        break;
      case ACT_TANH:
        for (let i = 0; i < len; i++) {
          const t = Math.tanh(z[i]!);
          if (needDeriv) d[i] = 1 - t * t;
          z[i] = t;
        }
        break;
      case ACT_GELU:
        for (let i = 0; i < len; i++) {
          const x = z[i]!;
          const t = Math.tanh(GELU_C * (x + GELU_A * x * x * x));
          if (needDeriv) d[i] = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * x * x);
          z[i] = 0.5 * x * (1 + t);
        }
        break;
      default:
        break;
    }
    if (!this.spec.layerNorm) return;
    for (let i = 0; i < m; i++) {
      const o = i * w;
      let mu = 0;
      for (let j = 0; j < w; j++) mu += z[o + j]!;
      mu /= w;
      let v = 0;
      for (let j = 0; j < w; j++) {
        const c = z[o + j]! - mu;
        v += c * c;
      }
      const r = 1 / Math.sqrt(v / w + LN_EPS);
      rstd[i] = r;
      for (let j = 0; j < w; j++) z[o + j] = (z[o + j]! - mu) * r;
    }
  }

  /** Loss of the current outputs; when dOut is given also writes dL/dOut. */
  private lossOut(rows: Int32Array | undefined, m: number, dOut: Arr | null): number {
    const q = this.outDim;
    const out = this.out;
    const Y = this.Y;
    let total = 0;
    const ls = this.lossSpec;
    if (ls.kind === 'cross_entropy') {
      for (let i = 0; i < m; i++) {
        const yr = (rows === undefined ? i : rows[i]!) * q;
        const zr = i * q;
        if (q === 1) {
          // Binary: the logit of class 1; softplus(z) - y z, gradient sigmoid(z) - y.
          const z = out[zr]!;
          const y = Y[yr]!;
          total += Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - y * z;
          if (dOut !== null) dOut[zr] = (1 / (1 + Math.exp(-z)) - y) / m;
          continue;
        }
        let mx = -Infinity;
        for (let j = 0; j < q; j++) mx = Math.max(mx, out[zr + j]!);
        let se = 0;
        for (let j = 0; j < q; j++) se += Math.exp(out[zr + j]! - mx);
        const lse = mx + Math.log(se);
        let ys = 0;
        for (let j = 0; j < q; j++) {
          const y = Y[yr + j]!;
          ys += y;
          total -= y * out[zr + j]!;
        }
        total += ys * lse;
        if (dOut !== null) {
          for (let j = 0; j < q; j++) dOut[zr + j] = (ys * Math.exp(out[zr + j]! - lse) - Y[yr + j]!) / m;
        }
      }
      return total / m;
    }
    const cnt = m * q;
    for (let i = 0; i < m; i++) {
      const yr = (rows === undefined ? i : rows[i]!) * q;
      for (let j = 0; j < q; j++) {
        const r = out[i * q + j]! - Y[yr + j]!;
        if (ls.kind === 'mse') {
          total += r * r;
          if (dOut !== null) dOut[i * q + j] = (2 * r) / cnt;
        } else {
          const s2 = ls.nu * ls.sigma * ls.sigma;
          total += 0.5 * (ls.nu + 1) * Math.log1p((r * r) / s2);
          if (dOut !== null) dOut[i * q + j] = ((ls.nu + 1) * r) / (s2 + r * r) / cnt;
        }
      }
    }
    return total / cnt;
  }

  loss(theta: Float64Array, rows?: Int32Array): number {
    this.alive();
    checkTheta(theta, this.dim);
    checkRows(rows, this.n);
    const P = this.params(theta);
    const m = this.gather(rows);
    this.forward(P, m, false);
    return this.lossOut(rows, m, null);
  }

  lossAndGrad(theta: Float64Array, grad: Float64Array, rows?: Int32Array): number {
    this.alive();
    checkTheta(theta, this.dim);
    checkGrad(grad, this.dim);
    checkRows(rows, this.n);
    const P = this.params(theta);
    const m = this.gather(rows);
    this.forward(P, m, true);
    let dz = this.dA;
    let dh = this.dB;
    const value = this.lossOut(rows, m, dz);
    const G = this.G;
    G.fill(0);
    for (let k = this.layers.length - 1; k >= 0; k--) {
      const { fanIn, fanOut, wOff, bOff } = this.layers[k]!;
      const hin = this.hs[k]!;
      // dW[o, j] = sum_i dz[i, o] hin[i, j]; db[o] = sum_i dz[i, o]. Four rows at a time, so
      // each read-modify-write of G carries four products.
      let i = 0;
      for (; i + 4 <= m; i += 4) {
        const r0 = i * fanIn;
        const r1 = r0 + fanIn;
        const r2 = r1 + fanIn;
        const r3 = r2 + fanIn;
        for (let o = 0; o < fanOut; o++) {
          const g0 = dz[i * fanOut + o]!;
          const g1 = dz[(i + 1) * fanOut + o]!;
          const g2 = dz[(i + 2) * fanOut + o]!;
          const g3 = dz[(i + 3) * fanOut + o]!;
          if (bOff >= 0) G[bOff + o] = G[bOff + o]! + (g0 + g1 + g2 + g3);
          if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0) continue;
          const wo = wOff + o * fanIn;
          for (let j = 0; j < fanIn; j++) {
            G[wo + j] = G[wo + j]! + (g0 * hin[r0 + j]! + g1 * hin[r1 + j]! + g2 * hin[r2 + j]! + g3 * hin[r3 + j]!);
          }
        }
      }
      for (; i < m; i++) {
        const ri = i * fanIn;
        for (let o = 0; o < fanOut; o++) {
          const g = dz[i * fanOut + o]!;
          if (bOff >= 0) G[bOff + o] = G[bOff + o]! + g;
          if (g === 0) continue;
          const wo = wOff + o * fanIn;
          for (let j = 0; j < fanIn; j++) G[wo + j] = G[wo + j]! + g * hin[ri + j]!;
        }
      }
      if (k === 0) break;
      // dh[i, j] = sum_o dz[i, o] W[o, j], four outputs o at a time.
      for (let i = 0; i < m; i++) {
        const ri = i * fanIn;
        const zi = i * fanOut;
        for (let j = 0; j < fanIn; j++) dh[ri + j] = 0;
        let o = 0;
        for (; o + 4 <= fanOut; o += 4) {
          const g0 = dz[zi + o]!;
          const g1 = dz[zi + o + 1]!;
          const g2 = dz[zi + o + 2]!;
          const g3 = dz[zi + o + 3]!;
          if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0) continue;
          const w0 = wOff + o * fanIn;
          const w1 = w0 + fanIn;
          const w2 = w1 + fanIn;
          const w3 = w2 + fanIn;
          for (let j = 0; j < fanIn; j++) {
            dh[ri + j] = dh[ri + j]! + (g0 * P[w0 + j]! + g1 * P[w1 + j]! + g2 * P[w2 + j]! + g3 * P[w3 + j]!);
          }
        }
        for (; o < fanOut; o++) {
          const g = dz[zi + o]!;
          if (g === 0) continue;
          const wo = wOff + o * fanIn;
          for (let j = 0; j < fanIn; j++) dh[ri + j] = dh[ri + j]! + g * P[wo + j]!;
        }
      }
      this.hiddenBackward(dh, hin, this.ds[k - 1]!, this.rstd[k - 1]!, m, fanIn);
      const t = dz;
      dz = dh;
      dh = t;
    }
    for (let i = 0; i < this.dim; i++) grad[i] = G[i]!;
    return value;
  }

  /** In place: gradient w.r.t. a hidden layer's output -> gradient w.r.t. its pre-activation. */
  private hiddenBackward(dh: Arr, h: Arr, d: Arr, rstd: Arr, m: number, w: number): void {
    if (this.spec.layerNorm) {
      for (let i = 0; i < m; i++) {
        const o = i * w;
        let s1 = 0;
        let s2 = 0;
        for (let j = 0; j < w; j++) {
          s1 += dh[o + j]!;
          s2 += dh[o + j]! * h[o + j]!;
        }
        s1 /= w;
        s2 /= w;
        const r = rstd[i]!;
        for (let j = 0; j < w; j++) dh[o + j] = r * (dh[o + j]! - s1 - h[o + j]! * s2);
      }
    }
    if (this.act !== ACT_IDENTITY) {
      const len = m * w;
      for (let i = 0; i < len; i++) dh[i] = dh[i]! * d[i]!;
    }
  }

  predict(theta: Float64Array, X: Float64Array, rows: number): Float64Array {
    this.alive();
    checkTheta(theta, this.dim);
    checkPredictInput(X, rows, this.inDim);
    const P = this.params(theta);
    const result = new Float64Array(rows * this.outDim);
    const d = this.inDim;
    const q = this.outDim;
    // Chunks of at most n rows reuse the buffers sized for the dataset.
    for (let start = 0; start < rows; start += this.n) {
      const m = Math.min(this.n, rows - start);
      for (let i = 0; i < m * d; i++) this.h0[i] = X[start * d + i]!;
      this.hs[0] = this.h0;
      this.forward(P, m, false);
      for (let i = 0; i < m * q; i++) result[start * q + i] = this.out[i]!;
    }
    return result;
  }

  dispose(): void {
    this.disposed = true;
  }
}
