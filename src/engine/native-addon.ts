// Loading the native engine addon (native/*.cc, built into build/Release by
// scripts/build-native.mjs at install time). The addon is optional: when it was not built or
// does not load, nativeAddon() says why and the engine uses its wasm kernels. Node's module cache
// keeps a loaded addon, so asking again is cheap; the outcome depends only on the files on disk
// and the CPU, so every process and worker thread on one machine reaches the same answer.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { NativeKernels } from './types.js';

/** Opaque model handle (an N-API external). */
export type NativeHandle = object;

export interface NativeCreateConfig {
  kernels: NativeKernels;
  sizes: Float64Array;
  act: number;
  bias: number;
  layerNorm: number;
  lossKind: number;
  nu: number;
  sigma: number;
  single: number;
  n: number;
  X: Float64Array;
  Y: Float64Array;
}

/** What the addon exports (native/addon.cc). */
export interface NativeAddon {
  /** The best kernel build this CPU runs. */
  readonly kernels: NativeKernels;
  /** Every build this CPU runs, best first. */
  readonly supported: readonly NativeKernels[];
  create(config: NativeCreateConfig): NativeHandle;
  lossGrad(handle: NativeHandle, theta: Float64Array, grad: Float64Array | null, rows: Int32Array | null): number;
  predict(handle: NativeHandle, theta: Float64Array, X: Float64Array, rows: number, out: Float64Array): void;
  dispose(handle: NativeHandle): void;
  /** C[M, N] (+)= A B with element strides; for the kernels' own tests. */
  gemm(
    kernels: NativeKernels,
    single: boolean,
    M: number,
    N: number,
    K: number,
    A: Float64Array | Float32Array,
    rsa: number,
    csa: number,
    B: Float64Array | Float32Array,
    rsb: number,
    csb: number,
    C: Float64Array | Float32Array,
    ldc: number,
    accumulate: boolean,
  ): void;
  /** Runs iters steps of independent multiply-adds in the build's widest registers; returns the flops done. */
  fmaPeak(kernels: NativeKernels, single: boolean, iters: number): number;
}

export type NativeStatus = { available: true; addon: NativeAddon; path: string } | { available: false; reason: string; path: string };

/** Two levels up from src/engine (vitest, tsx) and from dist/engine (compiled) alike. */
export const NATIVE_ADDON_PATH = fileURLToPath(new URL('../../build/Release/lambda_hat_native.node', import.meta.url));

function isAddon(v: unknown): v is NativeAddon {
  if (v === null || typeof v !== 'object') return false;
  const a = v as Record<string, unknown>;
  return (
    typeof a.kernels === 'string' &&
    Array.isArray(a.supported) &&
    typeof a.create === 'function' &&
    typeof a.lossGrad === 'function' &&
    typeof a.predict === 'function' &&
    typeof a.dispose === 'function' &&
    typeof a.gemm === 'function' &&
    typeof a.fmaPeak === 'function'
  );
}

const requireAddon = createRequire(import.meta.url);

/** The native addon, or why it is unavailable. */
export function nativeAddon(): NativeStatus {
  const path = NATIVE_ADDON_PATH;
  let mod: unknown;
  try {
    mod = requireAddon(path);
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    const missing = (e as { code?: string }).code === 'MODULE_NOT_FOUND';
    return {
      available: false,
      path,
      reason: missing
        ? `the native addon was not built (no ${path}; \`npm run build:native\` prints why)`
        : `the native addon at ${path} does not load: ${msg.split('\n')[0]}`,
    };
  }
  if (!isAddon(mod)) return { available: false, path, reason: `${path} is not the lambda-hat native addon (rebuild with \`npm run build:native\`)` };
  return { available: true, addon: mod, path };
}
