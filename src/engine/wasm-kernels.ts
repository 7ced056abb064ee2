// Loading the AssemblyScript kernels (assembly/kernels.ts, built by scripts/build-wasm.mjs).
// The compiled WebAssembly.Module is immutable and cached per variant; every model gets its own
// Instance, so its own Memory, which dispose() releases to the garbage collector.
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

// The project's lib (ES2023, no DOM) has no WebAssembly typings; these are the few members used.
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
type WasmModule = object;
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: object };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The kernels' exports; pointers are byte offsets into `memory`. */
export interface KernelExports {
  memory: WasmMemory;
  heapBase(): number;
  packBytes(maxN: number, single: number): number;
  gemm_f64: GemmFn;
  gemm_f32: GemmFn;
  gather_f64: GatherFn;
  gather_f32: GatherFn;
  bias_add_f64: BiasAddFn;
  bias_add_f32: BiasAddFn;
  hidden_fwd_f64: HiddenFwdFn;
  hidden_fwd_f32: HiddenFwdFn;
  hidden_bwd_f64: HiddenBwdFn;
  hidden_bwd_f32: HiddenBwdFn;
  colsum_f64: ColsumFn;
  colsum_f32: ColsumFn;
  loss_f64: LossFn;
  loss_f32: LossFn;
}
export type GemmFn = (
  M: number, N: number, K: number,
  A: number, ars: number, acs: number,
  B: number, brs: number, bcs: number,
  C: number, ldc: number, accumulate: number, work: number,
) => void;
export type GatherFn = (X: number, rows: number, m: number, d: number, dst: number) => void;
export type BiasAddFn = (z: number, b: number, m: number, w: number) => void;
export type HiddenFwdFn = (z: number, b: number, m: number, w: number, act: number, d: number, ln: number, rstd: number) => void;
export type HiddenBwdFn = (dh: number, h: number, d: number, rstd: number, m: number, w: number, ln: number, act: number) => void;
export type ColsumFn = (dz: number, m: number, w: number, dst: number, accumulate: number) => void;
export type LossFn = (
  out: number, Y: number, rows: number, m: number, q: number, kind: number, nu: number, sigma: number, dOut: number,
  cnt: number,
) => number;

export type KernelVariant = 'simd' | 'relaxed';

// Smallest modules using one instruction of each feature: (v128, v128, v128) -> v128 returning
// f64x2.relaxed_madd of the params, resp. f64x2.add of the first two.
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, 0x03, 0x02,
  0x01, 0x00, 0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x87, 0x02, 0x0b,
]);
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, 0x03, 0x02,
  0x01, 0x00, 0x0a, 0x0b, 0x01, 0x09, 0x00, 0x20, 0x00, 0x20, 0x01, 0xfd, 0xf0, 0x01, 0x0b,
]);

/**
 * Node 20's V8 implements relaxed SIMD (fused multiply-add: 1.2-1.4x on the f64 and f32
 * kernels, measured in bench/engine.bench.ts) but validates it only behind a flag, which later
 * Node versions no longer need. Every entry point calls this before any kernel module is
 * compiled: the CLI (cli/index.ts main), a task's child process or SLURM job (tasks/child.ts), a
 * task's worker thread (tasks/thread-worker.ts), a chain's worker thread
 * (samplers/runner/chain-worker.ts), the benchmarks and the test setup. So every process and
 * thread makes the same choice and computes the same numbers. The flag is a process-wide,
 * one-way runtime capability (never toggled back); calling this again does nothing.
 */
export function enableRelaxedSimd(): void {
  if (typeof wasm?.validate !== 'function' || wasm.validate(RELAXED_PROBE)) return;
  try {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // A runtime that rejects the flag keeps the plain-SIMD kernels.
  }
}

/** True when the runtime accepts relaxed-SIMD (Node 20 only with --experimental-wasm-relaxed-simd). */
export function relaxedSimdSupported(): boolean {
  return typeof wasm?.validate === 'function' && wasm.validate(RELAXED_PROBE);
}

export function simdSupported(): boolean {
  return typeof wasm?.validate === 'function' && wasm.validate(SIMD_PROBE);
}

function wasmUrl(variant: KernelVariant): URL {
  // Two levels up from src/engine (vitest, tsx) and from dist/engine (compiled) alike.
  return new URL(`../../build/kernels-${variant}.wasm`, import.meta.url);
}

const compiled = new Map<KernelVariant, WasmModule>();

/** The best variant this runtime can run, or null when wasm SIMD or the build is missing. */
export function defaultVariant(): KernelVariant | null {
  if (!simdSupported()) return null;
  const v: KernelVariant = relaxedSimdSupported() ? 'relaxed' : 'simd';
  try {
    kernelModule(v);
    return v;
  } catch {
    return null;
  }
}

export function kernelModule(variant: KernelVariant): WasmModule {
  let mod = compiled.get(variant);
  if (mod === undefined) {
    const url = wasmUrl(variant);
    let bytes: Buffer;
    try {
      bytes = readFileSync(url);
    } catch (e) {
      throw new Error(
        `wasm engine kernels not found at ${url.pathname} (run \`npm run build:wasm\`): ${(e as Error).message}`,
      );
    }
    mod = new wasm.Module(bytes);
    compiled.set(variant, mod);
  }
  return mod;
}

export function instantiateKernels(variant: KernelVariant): KernelExports {
  const instance = new wasm.Instance(kernelModule(variant), {});
  return instance.exports as unknown as KernelExports;
}
