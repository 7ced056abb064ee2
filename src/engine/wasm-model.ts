// The wasm engine: the same network as ts-model.ts, with every O(rows * width) and GEMM step
// inside the AssemblyScript kernels. This class only lays out one linear memory per model and
// sequences the kernels. A batch runs in chunks of at most CHUNK rows: every term of the loss
// and gradient is a sum over rows, so chunk results add up exactly, and the activation buffers
// then cost O(CHUNK * width) instead of O(n * width) (about 1 GB at n = 1e5 on a 256-wide
// f64 network). Memory is sized once at creation, so no call ever grows it.
import {
  checkGrad,
  checkPredictInput,
  checkRows,
  checkTheta,
  lossTerms,
  ModelBase,
} from './spec.js';
import {
  instantiateKernels,
  type BiasAddFn,
  type ColsumFn,
  type GatherFn,
  type GemmFn,
  type HiddenBwdFn,
  type HiddenFwdFn,
  type KernelExports,
  type KernelVariant,
  type LossFn,
} from './wasm-kernels.js';
import type { CreateModelOptions, NetworkModel } from './types.js';

const PAGE = 65536;
const ALIGN = 64;
/** Rows per chunk: enough for the GEMMs to run at full speed; bounds the activation memory. */
const CHUNK = 1024;

/** Everything that keeps the Instance (and so its Memory) reachable; dispose drops it. */
interface Runtime {
  gemm: GemmFn;
  gather: GatherFn;
  biasAdd: BiasAddFn;
  hiddenFwd: HiddenFwdFn;
  hiddenBwd: HiddenBwdFn;
  colsum: ColsumFn;
  loss: LossFn;
  // Views created once (memory never grows after construction), so calls allocate nothing.
  thetaView: Float64Array | Float32Array;
  gradView: Float64Array | Float32Array;
  rowsView: Int32Array;
  h0View: Float64Array | Float32Array;
  outView: Float64Array | Float32Array;
}

export class WasmModel extends ModelBase implements NetworkModel {
  readonly impl = 'wasm' as const;
  /** Which kernel build runs this model ('relaxed' uses fused multiply-add). */
  readonly variant: KernelVariant;
  readonly kernels: 'wasm-relaxed' | 'wasm-simd';
  /** Rows the activation buffers hold: min(n, CHUNK). */
  private readonly cap: number;

  private rt: Runtime | null;
  private readonly es: number;
  private readonly ln: number;
  private readonly lossKind: number;
  private readonly nu: number;
  private readonly sigma: number;
  // Byte offsets into the kernels' memory.
  private readonly pP: number;
  private readonly pG: number;
  private readonly pX: number;
  private readonly pY: number;
  private readonly pRows: number;
  private readonly pH0: number;
  private readonly pH: number[];
  private readonly pD: number[];
  private readonly pRstd: number[];
  private readonly pOut: number;
  private readonly pDA: number;
  private readonly pDB: number;
  private readonly pWork: number;

  constructor(opts: CreateModelOptions, variant: KernelVariant) {
    super(opts);
    this.variant = variant;
    this.kernels = variant === 'relaxed' ? 'wasm-relaxed' : 'wasm-simd';
    this.ln = opts.spec.layerNorm ? 1 : 0;
    this.lossKind = opts.loss.kind === 'mse' ? 0 : opts.loss.kind === 'student_t' ? 1 : 2;
    this.nu = opts.loss.kind === 'student_t' ? opts.loss.nu : 0;
    this.sigma = opts.loss.kind === 'student_t' ? opts.loss.sigma : 0;
    const sizes = opts.spec.sizes;
    const single = opts.dtype === 'float32';
    const es = single ? 4 : 8;
    this.es = es;

    const k: KernelExports = instantiateKernels(variant);
    const ops = single
      ? {
          gemm: k.gemm_f32,
          gather: k.gather_f32,
          biasAdd: k.bias_add_f32,
          hiddenFwd: k.hidden_fwd_f32,
          hiddenBwd: k.hidden_bwd_f32,
          colsum: k.colsum_f32,
          loss: k.loss_f32,
        }
      : {
          gemm: k.gemm_f64,
          gather: k.gather_f64,
          biasAdd: k.bias_add_f64,
          hiddenFwd: k.hidden_fwd_f64,
          hiddenBwd: k.hidden_bwd_f64,
          colsum: k.colsum_f64,
          loss: k.loss_f64,
        };

    const n = this.n;
    const cap = Math.min(n, CHUNK);
    this.cap = cap;
    let top = Math.ceil(k.heapBase() / ALIGN) * ALIGN;
    const alloc = (bytes: number): number => {
      const p = top;
      top += Math.ceil(bytes / ALIGN) * ALIGN;
      return p;
    };
    this.pP = alloc(this.dim * es);
    this.pG = alloc(this.dim * es);
    this.pX = alloc(n * this.inDim * es);
    this.pY = alloc(n * this.outDim * es);
    this.pRows = alloc(n * 4);
    this.pH0 = alloc(cap * this.inDim * es);
    this.pH = [];
    this.pD = [];
    this.pRstd = [];
    for (let l = 1; l + 1 < sizes.length; l++) {
      this.pH.push(alloc(cap * sizes[l]! * es));
      this.pD.push(alloc(cap * sizes[l]! * es));
      this.pRstd.push(alloc(cap * es));
    }
    this.pOut = alloc(cap * this.outDim * es);
    const maxW = Math.max(...sizes);
    this.pDA = alloc(cap * maxW * es);
    this.pDB = alloc(cap * maxW * es);
    this.pWork = alloc(k.packBytes(maxW, single ? 1 : 0));

    const mem = k.memory;
    const have = mem.buffer.byteLength;
    if (top > have) {
      const pages = Math.ceil((top - have) / PAGE);
      try {
        mem.grow(pages);
      } catch (e) {
        throw new Error(
          `wasm engine cannot reserve ${(top / 2 ** 20).toFixed(0)} MiB for n = ${n} rows ` +
            `(${(e as Error).message}); use minibatches, float32 or impl 'ts'`,
        );
      }
    }
    const buf = mem.buffer;
    const View = single ? Float32Array : Float64Array;
    this.rt = {
      ...ops,
      thetaView: new View(buf, this.pP, this.dim),
      gradView: new View(buf, this.pG, this.dim),
      rowsView: new Int32Array(buf, this.pRows, n),
      h0View: new View(buf, this.pH0, cap * this.inDim),
      outView: new View(buf, this.pOut, cap * this.outDim),
    };
    new View(buf, this.pX, n * this.inDim).set(opts.data.X);
    new View(buf, this.pY, n * this.outDim).set(opts.data.Y);
  }

  private alive(): Runtime {
    if (this.rt === null) throw new Error('model has been disposed');
    return this.rt;
  }

  /** Runs the layers on the m rows at h0; with needDeriv keeps what the backward pass needs. */
  private forward(rt: Runtime, h0: number, m: number, needDeriv: boolean): void {
    const { gemm, hiddenFwd, biasAdd } = rt;
    const es = this.es;
    const L = this.layers.length;
    let hin = h0;
    for (let l = 0; l < L; l++) {
      const { fanIn, fanOut, wOff, bOff } = this.layers[l]!;
      const hidden = l + 1 < L;
      const z = hidden ? this.pH[l]! : this.pOut;
      // Z = H W^T: B(k, j) = W[j, k].
      gemm(m, fanOut, fanIn, hin, fanIn, 1, this.pP + wOff * es, 1, fanIn, z, fanOut, 0, this.pWork);
      const bias = bOff >= 0 ? this.pP + bOff * es : 0;
      if (hidden) {
        hiddenFwd(z, bias, m, fanOut, this.act, needDeriv ? this.pD[l]! : 0, this.ln, this.pRstd[l]!);
      } else if (bias !== 0) {
        biasAdd(z, bias, m, fanOut);
      }
      hin = z;
    }
  }

  /**
   * Input rows [start, start + m) of the batch: a slice of X for the full dataset, else the
   * gathered minibatch rows (rowsView already holds the indices).
   */
  private chunkInput(rt: Runtime, rows: Int32Array | undefined, start: number, m: number): number {
    if (rows === undefined) return this.pX + start * this.inDim * this.es;
    rt.gather(this.pX, this.pRows + start * 4, m, this.inDim, this.pH0);
    return this.pH0;
  }

  /** Loss of the chunk's outputs (already divided by the whole batch's count); dOut optional. */
  private chunkLoss(rt: Runtime, rows: Int32Array | undefined, start: number, m: number, total: number, dOut: number): number {
    const q = this.outDim;
    const Y = rows === undefined ? this.pY + start * q * this.es : this.pY;
    const r = rows === undefined ? 0 : this.pRows + start * 4;
    return rt.loss(this.pOut, Y, r, m, q, this.lossKind, this.nu, this.sigma, dOut, lossTerms(this.lossSpec, total, q));
  }

  loss(theta: Float64Array, rows?: Int32Array): number {
    const rt = this.alive();
    checkTheta(theta, this.dim);
    const total = checkRows(rows, this.n);
    rt.thetaView.set(theta);
    if (rows !== undefined) rt.rowsView.set(rows);
    let value = 0;
    for (let start = 0; start < total; start += this.cap) {
      const m = Math.min(this.cap, total - start);
      this.forward(rt, this.chunkInput(rt, rows, start, m), m, false);
      value += this.chunkLoss(rt, rows, start, m, total, 0);
    }
    return value;
  }

  lossAndGrad(theta: Float64Array, grad: Float64Array, rows?: Int32Array): number {
    const rt = this.alive();
    checkTheta(theta, this.dim);
    checkGrad(grad, this.dim);
    const total = checkRows(rows, this.n);
    rt.thetaView.set(theta);
    if (rows !== undefined) rt.rowsView.set(rows);
    const { gemm, colsum, hiddenBwd } = rt;
    const es = this.es;
    let value = 0;
    for (let start = 0; start < total; start += this.cap) {
      const m = Math.min(this.cap, total - start);
      // The first chunk overwrites the gradient, later chunks add to it.
      const acc = start === 0 ? 0 : 1;
      const h0 = this.chunkInput(rt, rows, start, m);
      this.forward(rt, h0, m, true);
      let dz = this.pDA;
      let dh = this.pDB;
      value += this.chunkLoss(rt, rows, start, m, total, dz);
      for (let l = this.layers.length - 1; l >= 0; l--) {
        const { fanIn, fanOut, wOff, bOff } = this.layers[l]!;
        const hin = l === 0 ? h0 : this.pH[l - 1]!;
        // dW = dZ^T H: A(o, i) = dZ[i, o], B(i, j) = H[i, j].
        gemm(fanOut, fanIn, m, dz, 1, fanOut, hin, fanIn, 1, this.pG + wOff * es, fanIn, acc, this.pWork);
        if (bOff >= 0) colsum(dz, m, fanOut, this.pG + bOff * es, acc);
        if (l === 0) break;
        // dH = dZ W, then back through LayerNorm and the activation of the layer below.
        gemm(m, fanIn, fanOut, dz, fanOut, 1, this.pP + wOff * es, fanIn, 1, dh, fanIn, 0, this.pWork);
        hiddenBwd(dh, hin, this.pD[l - 1]!, this.pRstd[l - 1]!, m, fanIn, this.ln, this.act);
        const t = dz;
        dz = dh;
        dh = t;
      }
    }
    grad.set(rt.gradView);
    return value;
  }

  predict(theta: Float64Array, X: Float64Array, rows: number): Float64Array {
    const rt = this.alive();
    checkTheta(theta, this.dim);
    checkPredictInput(X, rows, this.inDim);
    rt.thetaView.set(theta);
    const d = this.inDim;
    const q = this.outDim;
    const result = new Float64Array(rows * q);
    for (let start = 0; start < rows; start += this.cap) {
      const m = Math.min(this.cap, rows - start);
      rt.h0View.set(X.subarray(start * d, (start + m) * d));
      this.forward(rt, this.pH0, m, false);
      result.set(rt.outView.subarray(0, m * q), start * q);
    }
    return result;
  }

  dispose(): void {
    // Dropping the only references to the Instance lets its Memory be collected.
    this.rt = null;
  }
}
