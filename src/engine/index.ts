// The engine's entry point: createModel picks an implementation behind the NetworkModel
// contract (types.ts). Callers above the engine import from here only.
import { nativeAddon, type NativeAddon } from './native-addon.js';
import { NativeModel } from './native-model.js';
import { TsModel } from './ts-model.js';
import { defaultVariant, relaxedSimdSupported } from './wasm-kernels.js';
import { WasmModel } from './wasm-model.js';
import type { CreateModelOptions, EngineImpl, EngineKernels, LossFunction, NativeKernels, NetworkModel } from './types.js';

export type * from './types.js';
export { layerShapes, paramCount, validateSpec, type TensorShape } from './spec.js';
export { enableRelaxedSimd, relaxedSimdSupported } from './wasm-kernels.js';

/** What computed a loss's numbers: its engine implementation and kernel build. */
export interface EngineRecord {
  impl: EngineImpl;
  kernels: EngineKernels;
}

/** The engine behind a loss function, or null when it is not an engine model (analytic losses). */
export function engineOf(loss: LossFunction): EngineRecord | null {
  const m = loss as Partial<NetworkModel>;
  return typeof m.impl === 'string' && typeof m.kernels === 'string' ? { impl: m.impl, kernels: m.kernels } : null;
}

/** Which implementation and kernels createModel uses by default here, and why native is off. */
export interface EngineChoice {
  impl: EngineImpl;
  kernels: EngineKernels;
  /** Why the native engine is not used (absent when it is). */
  nativeUnavailable?: string;
}

/**
 * The default engine of this machine: native when the addon loads (its best kernel build for
 * this CPU), else wasm (relaxed SIMD where the runtime has it), else TypeScript. It depends only
 * on the installed files, the CPU and the runtime, so every process and thread on one machine
 * makes the same choice and computes the same numbers.
 */
export function defaultEngine(): EngineChoice {
  const native = nativeAddon();
  if (native.available) return { impl: 'native', kernels: native.addon.kernels };
  const variant = defaultVariant();
  if (variant !== null) return { impl: 'wasm', kernels: `wasm-${variant}`, nativeUnavailable: native.reason };
  return { impl: 'ts', kernels: 'ts', nativeUnavailable: native.reason };
}

function nativeKernelsFor(addon: NativeAddon, want: CreateModelOptions['nativeKernels']): NativeKernels {
  if (want === undefined || want === 'auto') return addon.kernels;
  if (want !== 'avx512' && want !== 'avx2' && want !== 'sse2' && want !== 'generic') {
    throw new Error(`unknown nativeKernels '${String(want)}' (expected auto, avx512, avx2, sse2 or generic)`);
  }
  if (!addon.supported.includes(want)) {
    throw new Error(
      `nativeKernels '${want}' cannot run on this CPU (it runs ${addon.supported.join(', ')}); ` +
        "use 'auto' or one of those",
    );
  }
  return want;
}

function createWasm(opts: CreateModelOptions, fallBackToTs: boolean): NetworkModel {
  const want = opts.wasmKernels ?? 'auto';
  if (want !== 'auto' && want !== 'simd' && want !== 'relaxed') {
    throw new Error(`unknown wasmKernels '${String(want)}' (expected auto, simd or relaxed)`);
  }
  if (want === 'relaxed' && !relaxedSimdSupported()) {
    throw new Error(
      "wasmKernels 'relaxed' needs relaxed SIMD, which this runtime lacks (Node 20: start it with --experimental-wasm-relaxed-simd)",
    );
  }
  const variant = defaultVariant();
  if (variant === null) {
    if (fallBackToTs) return new TsModel(opts);
    // Let kernelModule's error (missing file) or the SIMD check explain what is wrong.
    return new WasmModel(opts, 'simd');
  }
  return new WasmModel(opts, want === 'auto' ? variant : want);
}

/**
 * Builds a model. Without `impl`, the machine's default engine (defaultEngine): the native
 * addon when it loads, else the wasm SIMD kernels, else TypeScript; the model's `impl` and
 * `kernels` say which ran. An explicit impl fails instead of falling back ('native' names the
 * reason the addon is unavailable).
 */
export function createModel(opts: CreateModelOptions): NetworkModel {
  if (opts.impl === 'ts') return new TsModel(opts);
  if (opts.impl === 'wasm') return createWasm(opts, false);
  const native = nativeAddon();
  if (native.available) return new NativeModel(opts, native.addon, nativeKernelsFor(native.addon, opts.nativeKernels));
  if (opts.impl === 'native') {
    throw new Error(`engine impl 'native' is unavailable: ${native.reason}; use impl 'wasm' or leave impl unset`);
  }
  return createWasm(opts, true);
}
