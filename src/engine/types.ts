/**
 * The engine's public contract. Everything above the engine (targets, posterior, samplers)
 * sees parameters as one flat Float64Array; the engine may compute in float32 internally.
 *
 * Flat parameter layout (matches the safetensors contract): for each layer k in order,
 * `layers.<k>.weight` [out, in] row-major, then `layers.<k>.bias` [out] when bias is on.
 */

export const DTYPES = ['float64', 'float32'] as const;
export type DType = (typeof DTYPES)[number];

/** The hidden-layer activations, in the order messages list them. */
export const ACTIVATIONS = ['relu', 'tanh', 'gelu', 'identity'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/**
 * The activation table: the number each activation has inside the engines (ts-model.ts, and
 * the wasm kernels' ACT_* constants in assembly/kernels.ts, which must use the same numbers).
 */
export const ACTIVATION_CODE: Readonly<Record<Activation, number>> = Object.freeze({
  identity: 0,
  relu: 1,
  tanh: 2,
  gelu: 3,
});

export const ENGINE_IMPLS = ['native', 'wasm', 'ts'] as const;
export type EngineImpl = (typeof ENGINE_IMPLS)[number];
/** Instruction-set builds of the native kernels, best first ('generic' on non-x86 CPUs). */
export const NATIVE_KERNELS = ['avx512', 'avx2', 'sse2', 'generic'] as const;
export type NativeKernels = (typeof NATIVE_KERNELS)[number];
/** Which kernels computed a model's numbers: the native build, the wasm build, or TypeScript. */
export const ENGINE_KERNELS = [...NATIVE_KERNELS, 'wasm-relaxed', 'wasm-simd', 'ts'] as const;
export type EngineKernels = (typeof ENGINE_KERNELS)[number];

export type LossSpec =
  | { kind: 'mse' }
  /**
   * Classification: Y holds each row's class probabilities (one-hot for integer labels). With
   * q >= 2 outputs the outputs are logits of a softmax, loss -sum_j y_j log softmax(z)_j; with
   * one output it is the logit of class 1 (binary: softplus(z) - y z). Mean over rows.
   */
  | { kind: 'cross_entropy' }
  /** Student-t regression: mean over rows and outputs of 0.5 (nu + 1) log1p(r^2 / (nu sigma^2)). */
  | { kind: 'student_t'; nu: number; sigma: number };

/**
 * A multilayer perceptron h = act(h W^T + b) for hidden layers, linear output layer.
 * A deep linear network is an MLP with activation 'identity' and bias false.
 * `gelu` is the tanh approximation (JAX's default). `layerNorm` normalises each hidden
 * activation over its features (eps 1e-5, no learnable scale or shift).
 */
export interface MlpSpec {
  sizes: number[];
  activation: Activation;
  bias: boolean;
  layerNorm: boolean;
}

/** Row-major regression data: X is [n, inDim], Y is [n, outDim]. */
export interface Dataset {
  n: number;
  inDim: number;
  outDim: number;
  X: Float64Array;
  Y: Float64Array;
}

/**
 * Anything with a loss L_n(theta) = mean loss over rows and its gradient: the engine's
 * networks, and analytic targets (the quadratic) used for exact sampler tests.
 * `rows` selects a minibatch (indices into the data, repeats allowed); the loss is then
 * the mean over those rows. Implementations must not allocate per call.
 */
export interface LossFunction {
  /** Number of parameters. */
  readonly dim: number;
  /** Number of data rows (n in n*beta). */
  readonly n: number;
  /** Writes dL/dtheta into grad (length dim) and returns L. */
  lossAndGrad(theta: Float64Array, grad: Float64Array, rows?: Int32Array): number;
  loss(theta: Float64Array, rows?: Int32Array): number;
}

export interface NetworkModel extends LossFunction {
  readonly spec: MlpSpec;
  readonly lossSpec: LossSpec;
  readonly dtype: DType;
  readonly impl: EngineImpl;
  /**
   * The kernel build behind `impl`. Builds round differently (vector width, fused multiply-add),
   * so runs that must reproduce each other's numbers need the same impl and kernels.
   */
  readonly kernels: EngineKernels;
  /** Network outputs for the given inputs ([rows, inDim] row-major) -> [rows, outDim]. */
  predict(theta: Float64Array, X: Float64Array, rows: number): Float64Array;
  /** Frees engine memory (native, wasm); the model must not be used afterwards. */
  dispose(): void;
}

export interface CreateModelOptions {
  spec: MlpSpec;
  data: Dataset;
  loss: LossSpec;
  dtype: DType;
  /**
   * Default: 'native' when the addon was built and loads, else 'wasm', else 'ts' (the plain
   * TypeScript reference). An explicit impl fails instead of falling back.
   */
  impl?: EngineImpl;
  /**
   * Which native kernel build to run. 'auto' (default) takes the best one this CPU runs
   * (AVX-512, then AVX2 + FMA, then SSE2), the same choice in every process and thread on one
   * machine; naming a build pins it (an error when the CPU cannot run it).
   */
  nativeKernels?: 'auto' | NativeKernels;
  /**
   * Which wasm kernel build to run. 'auto' (default) takes the relaxed-SIMD (fused
   * multiply-add) build when the runtime validates it (Node 20: only with
   * --experimental-wasm-relaxed-simd), else plain SIMD. FMA rounds differently, so runs that
   * must agree bit-for-bit across processes started with different flags should pin 'simd'.
   */
  wasmKernels?: 'auto' | 'simd' | 'relaxed';
}
