// The wasm engine: the same network as ts-model.ts, with every O(rows * width) and GEMM step
// inside the AssemblyScript kernels. This class only lays out one linear memory per model
// (sized once, for a batch of all n rows, so no call ever grows it) and sequences the kernels.
import {
  checkGrad,
  checkPredictInput,
  checkRows,
  checkTheta,
  layerLayout,
  paramCount,
  validateOptions,
  type LayerLayout,
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
import type { CreateModelOptions, DType, LossSpec, MlpSpec, NetworkModel } from './types.js';

const PAGE = 65536;
const ALIGN = 64;

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

export class WasmModel implements NetworkModel {
  readonly impl = 'wasm' as const;
  readonly spec: MlpSpec;
  readonly lossSpec: LossSpec;
  readonly dtype: DType;
  readonly dim: number;
  readonly n: number;
  /** Which kernel build runs this model ('relaxed' uses fused multiply-add). */
  readonly variant: KernelVariant;

  private rt: Runtime | null;
  private readonly layers: LayerLayout[];
  private readonly es: number;
  private readonly act: number;
  private readonly ln: number;
  private readonly lossKind: number;
  private readonly nu: number;
  private readonly sigma: number;
  private readonly inDim: number;
  private readonly outDim: number;
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
    validateOptions(opts);
    this.variant = variant;
    this.spec = structuredClone(opts.spec);
    this.lossSpec = { ...opts.loss };
    this.dtype = opts.dtype;
    this.n = opts.data.n;
    this.dim = paramCount(opts.spec);
    this.layers = layerLayout(opts.spec);
    this.act = ['identity', 'relu', 'tanh', 'gelu'].indexOf(opts.spec.activation);
    this.ln = opts.spec.layerNorm ? 1 : 0;
    this.lossKind = opts.loss.kind === 'mse' ? 0 : 1;
    this.nu = opts.loss.kind === 'student_t' ? opts.loss.nu : 0;
    this.sigma = opts.loss.kind === 'student_t' ? opts.loss.sigma : 0;
    const sizes = opts.spec.sizes;
    this.inDim = sizes[0]!;
    this.outDim = sizes[sizes.length - 1]!;
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
    this.pH0 = alloc(n * this.inDim * es);
    this.pH = [];
    this.pD = [];
    this.pRstd = [];
    for (let l = 1; l + 1 < sizes.length; l++) {
      this.pH.push(alloc(n * sizes[l]! * es));
      this.pD.push(alloc(n * sizes[l]! * es));
      this.pRstd.push(alloc(n * es));
    }
    this.pOut = alloc(n * this.outDim * es);
    const maxW = Math.max(...sizes);
    this.pDA = alloc(n * maxW * es);
    this.pDB = alloc(n * maxW * es);
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
      h0View: new View(buf, this.pH0, n * this.inDim),
      outView: new View(buf, this.pOut, n * this.outDim),
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

  private batch(rt: Runtime, rows: Int32Array | undefined): number {
    if (rows === undefined) return this.pX;
    rt.rowsView.set(rows);
    rt.gather(this.pX, this.pRows, rows.length, this.inDim, this.pH0);
    return this.pH0;
  }

  loss(theta: Float64Array, rows?: Int32Array): number {
    const rt = this.alive();
    checkTheta(theta, this.dim);
    const m = checkRows(rows, this.n);
    rt.thetaView.set(theta);
    this.forward(rt, this.batch(rt, rows), m, false);
    const r = rows === undefined ? 0 : this.pRows;
    return rt.loss(this.pOut, this.pY, r, m, this.outDim, this.lossKind, this.nu, this.sigma, 0);
  }

  lossAndGrad(theta: Float64Array, grad: Float64Array, rows?: Int32Array): number {
    const rt = this.alive();
    checkTheta(theta, this.dim);
    checkGrad(grad, this.dim);
    const m = checkRows(rows, this.n);
    rt.thetaView.set(theta);
    const h0 = this.batch(rt, rows);
    this.forward(rt, h0, m, true);
    const { gemm, colsum, hiddenBwd } = rt;
    const es = this.es;
    let dz = this.pDA;
    let dh = this.pDB;
    const r = rows === undefined ? 0 : this.pRows;
    const value = rt.loss(this.pOut, this.pY, r, m, this.outDim, this.lossKind, this.nu, this.sigma, dz);
    for (let l = this.layers.length - 1; l >= 0; l--) {
      const { fanIn, fanOut, wOff, bOff } = this.layers[l]!;
      const hin = l === 0 ? h0 : this.pH[l - 1]!;
      // dW = dZ^T H: A(o, i) = dZ[i, o], B(i, j) = H[i, j]; overwrites this layer's gradient.
      gemm(fanOut, fanIn, m, dz, 1, fanOut, hin, fanIn, 1, this.pG + wOff * es, fanIn, 0, this.pWork);
      if (bOff >= 0) colsum(dz, m, fanOut, this.pG + bOff * es);
      if (l === 0) break;
      // dH = dZ W, then back through LayerNorm and the activation of the layer below.
      gemm(m, fanIn, fanOut, dz, fanOut, 1, this.pP + wOff * es, fanIn, 1, dh, fanIn, 0, this.pWork);
      hiddenBwd(dh, hin, this.pD[l - 1]!, this.pRstd[l - 1]!, m, fanIn, this.ln, this.act);
      const t = dz;
      dz = dh;
      dh = t;
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
    // Chunks of at most n rows fit the buffers sized for the dataset.
    for (let start = 0; start < rows; start += this.n) {
      const m = Math.min(this.n, rows - start);
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
