// Validation and parameter layout shared by the engine implementations. Everything here is
// pure: the implementations call these once at model creation (and the cheap per-call checks
// on theta/rows), so a bad input surfaces as an Error naming the problem, not as NaN later.
import { ACTIVATION_CODE, ACTIVATIONS, type CreateModelOptions, type DType, type LossSpec, type MlpSpec } from './types.js';

export interface TensorShape {
  /** `layers.<k>.weight` or `layers.<k>.bias`, as in params.safetensors. */
  name: string;
  /** [out, in] for weights, [out] for biases. */
  shape: number[];
  /** Start of the tensor in the flat parameter vector. */
  offset: number;
  size: number;
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

export function validateSpec(spec: MlpSpec): void {
  if (spec === null || typeof spec !== 'object') throw new Error('MLP spec must be an object');
  if (!Array.isArray(spec.sizes) || spec.sizes.length < 2) {
    throw new Error(`MLP spec.sizes must list at least input and output width, got ${JSON.stringify(spec.sizes)}`);
  }
  spec.sizes.forEach((s, i) => {
    if (!isPositiveInt(s)) throw new Error(`MLP spec.sizes[${i}] must be a positive integer, got ${String(s)}`);
  });
  if (!(ACTIVATIONS as readonly string[]).includes(spec.activation)) {
    throw new Error(`unknown activation '${String(spec.activation)}' (expected one of ${ACTIVATIONS.join(', ')})`);
  }
  if (typeof spec.bias !== 'boolean') throw new Error(`MLP spec.bias must be a boolean, got ${String(spec.bias)}`);
  if (typeof spec.layerNorm !== 'boolean') {
    throw new Error(`MLP spec.layerNorm must be a boolean, got ${String(spec.layerNorm)}`);
  }
}

export function validateLoss(loss: LossSpec): void {
  if (loss === null || typeof loss !== 'object') throw new Error('loss spec must be an object');
  if (loss.kind === 'mse' || loss.kind === 'cross_entropy') return;
  if (loss.kind === 'student_t') {
    if (!(typeof loss.nu === 'number' && loss.nu > 0 && Number.isFinite(loss.nu))) {
      throw new Error(`student_t loss needs nu > 0, got ${String(loss.nu)}`);
    }
    if (!(typeof loss.sigma === 'number' && loss.sigma > 0 && Number.isFinite(loss.sigma))) {
      throw new Error(`student_t loss needs sigma > 0, got ${String(loss.sigma)}`);
    }
    return;
  }
  throw new Error(`unknown loss kind '${String((loss as { kind: unknown }).kind)}' (expected mse, student_t or cross_entropy)`);
}

export function layerShapes(spec: MlpSpec): TensorShape[] {
  validateSpec(spec);
  const out: TensorShape[] = [];
  let offset = 0;
  for (let k = 0; k + 1 < spec.sizes.length; k++) {
    const fanIn = spec.sizes[k]!;
    const fanOut = spec.sizes[k + 1]!;
    out.push({ name: `layers.${k}.weight`, shape: [fanOut, fanIn], offset, size: fanOut * fanIn });
    offset += fanOut * fanIn;
    if (spec.bias) {
      out.push({ name: `layers.${k}.bias`, shape: [fanOut], offset, size: fanOut });
      offset += fanOut;
    }
  }
  return out;
}

export function paramCount(spec: MlpSpec): number {
  const shapes = layerShapes(spec);
  const last = shapes[shapes.length - 1]!;
  return last.offset + last.size;
}

/** Per-layer offsets into the flat vector; bias offset is -1 when the spec has no bias. */
export interface LayerLayout {
  fanIn: number;
  fanOut: number;
  wOff: number;
  bOff: number;
}

export function layerLayout(spec: MlpSpec): LayerLayout[] {
  const out: LayerLayout[] = [];
  let offset = 0;
  for (let k = 0; k + 1 < spec.sizes.length; k++) {
    const fanIn = spec.sizes[k]!;
    const fanOut = spec.sizes[k + 1]!;
    const wOff = offset;
    offset += fanIn * fanOut;
    const bOff = spec.bias ? offset : -1;
    if (spec.bias) offset += fanOut;
    out.push({ fanIn, fanOut, wOff, bOff });
  }
  return out;
}

function checkFinite(a: Float64Array, what: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) throw new Error(`${what} contains a non-finite value (${a[i]}) at index ${i}`);
  }
}

/** Validates everything createModel receives; returns nothing, throws a named Error. */
export function validateOptions(opts: CreateModelOptions): void {
  validateSpec(opts.spec);
  validateLoss(opts.loss);
  if (opts.dtype !== 'float64' && opts.dtype !== 'float32') {
    throw new Error(`unknown dtype '${String(opts.dtype)}' (expected float64 or float32)`);
  }
  if (opts.impl !== undefined && opts.impl !== 'native' && opts.impl !== 'wasm' && opts.impl !== 'ts') {
    throw new Error(`unknown engine impl '${String(opts.impl)}' (expected native, wasm or ts)`);
  }
  const nk = opts.nativeKernels;
  if (nk !== undefined && nk !== 'auto' && nk !== 'avx512' && nk !== 'avx2' && nk !== 'sse2' && nk !== 'generic') {
    throw new Error(`unknown nativeKernels '${String(nk)}' (expected auto, avx512, avx2, sse2 or generic)`);
  }
  const { data, spec } = opts;
  if (!isPositiveInt(data.n)) throw new Error(`dataset n must be a positive integer, got ${String(data.n)}`);
  const inDim = spec.sizes[0]!;
  const outDim = spec.sizes[spec.sizes.length - 1]!;
  if (data.inDim !== inDim) throw new Error(`dataset inDim ${data.inDim} does not match the network input width ${inDim}`);
  if (data.outDim !== outDim) {
    throw new Error(`dataset outDim ${data.outDim} does not match the network output width ${outDim}`);
  }
  if (!(data.X instanceof Float64Array)) throw new Error('dataset X must be a Float64Array');
  if (!(data.Y instanceof Float64Array)) throw new Error('dataset Y must be a Float64Array');
  if (data.X.length !== data.n * inDim) {
    throw new Error(`dataset X has length ${data.X.length}, expected n*inDim = ${data.n}*${inDim} = ${data.n * inDim}`);
  }
  if (data.Y.length !== data.n * outDim) {
    throw new Error(`dataset Y has length ${data.Y.length}, expected n*outDim = ${data.n}*${outDim} = ${data.n * outDim}`);
  }
  checkFinite(data.X, 'dataset X');
  checkFinite(data.Y, 'dataset Y');
}

/**
 * What every engine implementation (ts-model.ts, wasm-model.ts, native-model.ts) holds about a
 * model, set up once from the options after validating them: spec, loss, dtype, sizes and
 * parameter layout.
 */
export abstract class ModelBase {
  readonly spec: MlpSpec;
  readonly lossSpec: LossSpec;
  readonly dtype: DType;
  readonly dim: number;
  readonly n: number;
  protected readonly layers: LayerLayout[];
  /** The activation's number in ACTIVATION_CODE (what the kernels switch on). */
  protected readonly act: number;
  protected readonly inDim: number;
  protected readonly outDim: number;

  constructor(opts: CreateModelOptions) {
    validateOptions(opts);
    this.spec = structuredClone(opts.spec);
    this.lossSpec = { ...opts.loss };
    this.dtype = opts.dtype;
    this.n = opts.data.n;
    this.dim = paramCount(opts.spec);
    this.layers = layerLayout(opts.spec);
    this.act = ACTIVATION_CODE[opts.spec.activation];
    const sizes = opts.spec.sizes;
    this.inDim = sizes[0]!;
    this.outDim = sizes[sizes.length - 1]!;
  }
}

export function checkTheta(theta: Float64Array, dim: number): void {
  if (!(theta instanceof Float64Array)) throw new Error('theta must be a Float64Array');
  if (theta.length !== dim) throw new Error(`theta has length ${theta.length}, expected the parameter count ${dim}`);
}

export function checkGrad(grad: Float64Array, dim: number): void {
  if (!(grad instanceof Float64Array)) throw new Error('grad must be a Float64Array');
  if (grad.length !== dim) throw new Error(`grad has length ${grad.length}, expected the parameter count ${dim}`);
}

/** Returns the batch size; rows must be non-empty, at most n long, with every index in [0, n). */
export function checkRows(rows: Int32Array | undefined, n: number): number {
  if (rows === undefined) return n;
  if (!(rows instanceof Int32Array)) throw new Error('rows must be an Int32Array of row indices');
  if (rows.length === 0) throw new Error('rows is empty: a minibatch needs at least one row');
  if (rows.length > n) throw new Error(`rows has ${rows.length} entries, more than the dataset's n = ${n}`);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (r < 0 || r >= n) throw new Error(`rows[${i}] = ${r} is out of range [0, ${n})`);
  }
  return rows.length;
}

export function checkPredictInput(X: Float64Array, rows: number, inDim: number): void {
  if (!(X instanceof Float64Array)) throw new Error('predict X must be a Float64Array');
  if (!Number.isInteger(rows) || rows < 0) throw new Error(`predict rows must be a non-negative integer, got ${rows}`);
  if (X.length !== rows * inDim) {
    throw new Error(`predict X has length ${X.length}, expected rows*inDim = ${rows}*${inDim} = ${rows * inDim}`);
  }
}

// GELU (tanh approximation) constants, as jax.nn.gelu(approximate=True).
/**
 * The number of terms a batch's loss is the mean of: every output of every row for the
 * elementwise losses, every row for cross-entropy (one term per row over its q outputs).
 */
export function lossTerms(loss: LossSpec, rows: number, q: number): number {
  return loss.kind === 'cross_entropy' ? rows : rows * q;
}

export const GELU_C = Math.sqrt(2 / Math.PI);
export const GELU_A = 0.044715;
export const LN_EPS = 1e-5;
