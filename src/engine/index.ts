// The engine's entry point: createModel picks an implementation behind the NetworkModel
// contract (types.ts). Callers above the engine import from here only.
import { TsModel } from './ts-model.js';
import { defaultVariant, relaxedSimdSupported } from './wasm-kernels.js';
import { WasmModel } from './wasm-model.js';
import type { CreateModelOptions, NetworkModel } from './types.js';

export type * from './types.js';
export { layerShapes, paramCount, validateSpec, type TensorShape } from './spec.js';
export { enableRelaxedSimd, relaxedSimdSupported } from './wasm-kernels.js';

/**
 * Builds a model. impl 'wasm' (the default) runs the SIMD kernels, with fused multiply-add
 * where the runtime supports relaxed SIMD (see CreateModelOptions.wasmKernels). When impl is
 * not given and the kernels cannot run (no wasm SIMD, or `npm run build:wasm` never ran), the
 * TypeScript engine is used instead and the model's `impl` says so; an explicit impl 'wasm'
 * fails instead of falling back.
 */
export function createModel(opts: CreateModelOptions): NetworkModel {
  if (opts.impl === 'ts') return new TsModel(opts);
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
    if (opts.impl === undefined) return new TsModel(opts);
    // Let kernelModule's error (missing file) or the SIMD check explain what is wrong.
    return new WasmModel(opts, 'simd');
  }
  return new WasmModel(opts, want === 'auto' ? variant : want);
}
