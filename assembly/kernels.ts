// Numeric kernels for the wasm engine (AssemblyScript, built with --runtime stub: nothing here
// allocates). The host (src/engine/wasm-model.ts) owns the memory layout and passes byte
// pointers; element strides are in elements. Two builds come from this one file: plain SIMD
// and relaxed SIMD (ASC_FEATURE_RELAXED_SIMD), where the only difference is fused multiply-add.
//
// GEMM follows the BLIS structure: a kc-deep slice of B is packed into NR-wide micro-panels,
// an mc x kc block of A into MR-tall micro-panels, and a register-blocked micro-kernel
// accumulates an MR x NR tile of C over kc. Packing makes the micro-kernel independent of the
// operand layouts (X W^T, dY W, dY^T X all become the same loop) and keeps its loads
// contiguous; zero padding in the packed panels removes tails from the inner loop.

// The register tile is MR = 4 rows by two v128 of columns: 4x4 in f64 (f64x2), 4x8 in f32
// (f32x4). 8 accumulators + 2 B vectors + the 4 A broadcasts V8 loads up front + 1 product
// temporary = 15 registers, all V8 leaves us on x86-64 (xmm15 is its scratch); larger tiles, or
// unrolling k, spill. Every GEMM function below is generic over the element type T (f64 or f32);
// the host calls the two instantiations gemm_f64 and gemm_f32.
const MR: i32 = 4;
/** Columns of the register tile: two v128 of T. */
@inline
function nr<T>(): i32 {
  return 32 / <i32>sizeof<T>();
}
// kc keeps an A micro-panel plus a B micro-panel in L1 (A is stored pre-broadcast, 16 bytes an
// element: 16 KB + 8 KB at kc = 256); mc keeps the packed A block (mc x kc x 16 bytes = 256 KB)
// in L2 while the jr loop sweeps it once per B micro-panel. The same for both element types.
export const KC: i32 = 256;
export const MC: i32 = 64;
/** Up to this many columns a product skips packing (see gemmNarrow): 16 in f64, 32 in f32. */
@inline
function narrow<T>(): i32 {
  return 128 / <i32>sizeof<T>();
}

export function heapBase(): usize {
  return __heap_base;
}

/** Bytes the host must reserve for the packing buffers of a GEMM with N <= maxN columns. */
export function packBytes(maxN: i32, single: i32): usize {
  return single ? packBytesOf<f32>(maxN) : packBytesOf<f64>(maxN);
}

@inline
function packBytesOf<T>(maxN: i32): usize {
  const NR = nr<T>();
  const nPad = ((maxN + NR - 1) / NR) * NR;
  return <usize>(KC * nPad + MR * NR) * sizeof<T>() + <usize>(MC * KC) * 16 + 64;
}

// ---------------------------------------------------------------------------------------------
// Packing (generic over f32 / f64).

/**
 * A(i, k) = A[i*ars + k*acs]; writes rows [i0, i0+mc) x cols [k0, k0+kc) as MR-tall panels in
 * which every element is stored already broadcast to a full v128. The micro-kernel then reads A
 * with plain vector loads, whose constant offsets V8 folds into the address; a load-and-splat
 * with an offset costs it an extra address computation per element.
 */
@inline
function packA<T>(A: usize, ars: i32, acs: i32, i0: i32, mc: i32, k0: i32, kc: i32, dst: usize, MR: i32): void {
  const es = sizeof<T>();
  for (let ir = 0; ir < mc; ir += MR) {
    const panel = dst + (<usize>(ir * kc) << 4);
    const rows = min(MR, mc - ir);
    if (acs == 1) {
      // Rows of A are contiguous: read each row once, scatter into the panel with stride MR.
      for (let r = 0; r < rows; r++) {
        const src = A + <usize>((i0 + ir + r) * ars + k0) * es;
        let d = panel + (<usize>r << 4);
        for (let k = 0; k < kc; k++) {
          v128.store(d, v128.splat<T>(load<T>(src + <usize>k * es)));
          d += <usize>MR << 4;
        }
      }
    } else {
      for (let k = 0; k < kc; k++) {
        const src = A + <usize>((i0 + ir) * ars + (k0 + k) * acs) * es;
        const d = panel + (<usize>(k * MR) << 4);
        for (let r = 0; r < rows; r++) v128.store(d + (<usize>r << 4), v128.splat<T>(load<T>(src + <usize>(r * ars) * es)));
      }
    }
    for (let r = rows; r < MR; r++) {
      for (let k = 0; k < kc; k++) v128.store(panel + (<usize>(k * MR + r) << 4), v128.splat<T>(<T>0));
    }
  }
}

/** B(k, j) = B[k*brs + j*bcs]; writes rows [k0, k0+kc) x cols [0, N) as NR-wide panels. */
@inline
function packB<T>(B: usize, brs: i32, bcs: i32, N: i32, k0: i32, kc: i32, dst: usize, NR: i32): void {
  const es = sizeof<T>();
  for (let jr = 0; jr < N; jr += NR) {
    const panel = dst + <usize>(jr * kc) * es;
    const cols = min(NR, N - jr);
    if (bcs == 1) {
      for (let k = 0; k < kc; k++) {
        const src = B + <usize>((k0 + k) * brs + jr) * es;
        const d = panel + <usize>(k * NR) * es;
        for (let c = 0; c < cols; c++) store<T>(d + <usize>c * es, load<T>(src + <usize>c * es));
      }
    } else {
      // brs == 1 in practice (W read as W^T): each column of B is contiguous.
      for (let c = 0; c < cols; c++) {
        const src = B + <usize>(k0 * brs + (jr + c) * bcs) * es;
        let d = panel + <usize>c * es;
        for (let k = 0; k < kc; k++) {
          store<T>(d, load<T>(src + <usize>(k * brs) * es));
          d += <usize>NR * es;
        }
      }
    }
    for (let c = cols; c < NR; c++) {
      for (let k = 0; k < kc; k++) store<T>(panel + <usize>(k * NR + c) * es, <T>0);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Micro-kernels.

/** c + a b per lane, fused where the build has relaxed SIMD (the only difference between builds). */
@inline
function madd<T>(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return v128.relaxed_madd<T>(a, b, c);
  } else {
    return v128.add<T>(c, v128.mul<T>(a, b));
  }
}

/** C[MR x nr] (+)= Apanel[kc x MR]^T Bpanel[kc x nr]; ldc in bytes. */
function kern<T>(kc: i32, a: usize, b: usize, c: usize, ldc: usize, beta: bool): void {
  let c00 = v128.splat<T>(<T>0); let c01 = v128.splat<T>(<T>0);
  let c10 = v128.splat<T>(<T>0); let c11 = v128.splat<T>(<T>0);
  let c20 = v128.splat<T>(<T>0); let c21 = v128.splat<T>(<T>0);
  let c30 = v128.splat<T>(<T>0); let c31 = v128.splat<T>(<T>0);
  let av: v128;
  // Not unrolled: with unrolling V8 hoists the loads of later steps and spills accumulators.
  // The loop runs on the B pointer alone, to keep bookkeeping instructions out of it.
  const bEnd = b + (<usize>kc << 5);
  while (b < bEnd) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    av = v128.load(a);
    c00 = madd<T>(av, b0, c00);
    c01 = madd<T>(av, b1, c01);
    av = v128.load(a, 16);
    c10 = madd<T>(av, b0, c10);
    c11 = madd<T>(av, b1, c11);
    av = v128.load(a, 32);
    c20 = madd<T>(av, b0, c20);
    c21 = madd<T>(av, b1, c21);
    av = v128.load(a, 48);
    c30 = madd<T>(av, b0, c30);
    c31 = madd<T>(av, b1, c31);
    a += 64;
    b += 32;
  }
  if (beta) {
    c00 = v128.add<T>(c00, v128.load(c));
    c01 = v128.add<T>(c01, v128.load(c, 16));
    c10 = v128.add<T>(c10, v128.load(c + ldc));
    c11 = v128.add<T>(c11, v128.load(c + ldc, 16));
    c20 = v128.add<T>(c20, v128.load(c + 2 * ldc));
    c21 = v128.add<T>(c21, v128.load(c + 2 * ldc, 16));
    c30 = v128.add<T>(c30, v128.load(c + 3 * ldc));
    c31 = v128.add<T>(c31, v128.load(c + 3 * ldc, 16));
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c + ldc, c10);
  v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20);
  v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30);
  v128.store(c + 3 * ldc, c31, 16);
}

// ---------------------------------------------------------------------------------------------
// Degenerate shapes (an output width of 1, a batch of 1, rank-1 updates): packing into 4-wide
// panels would waste most of the tile, so these go through direct SIMD loops instead.

@inline
function hsum<T>(v: v128): T {
  if (sizeof<T>() == 8) {
    return <T>(f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1));
  } else {
    return <T>(f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
  }
}

/** N == 1, A rows and B column contiguous: C[i*ldc] (+)= dot(A[i, :], B[:]). */
@inline
function gemmDotRows<T>(M: i32, K: i32, A: usize, ars: i32, B: usize, C: usize, ldc: i32, accumulate: i32): void {
  const es = sizeof<T>();
  const L: i32 = 16 / <i32>es;
  for (let i = 0; i < M; i++) {
    const a = A + <usize>(i * ars) * es;
    let acc0 = v128.splat<T>(<T>0);
    let acc1 = v128.splat<T>(<T>0);
    let k = 0;
    for (; k + 2 * L <= K; k += 2 * L) {
      const o = <usize>k * es;
      acc0 = v128.add<T>(acc0, v128.mul<T>(v128.load(a + o), v128.load(B + o)));
      acc1 = v128.add<T>(acc1, v128.mul<T>(v128.load(a + o, 16), v128.load(B + o, 16)));
    }
    let sum = hsum<T>(v128.add<T>(acc0, acc1));
    for (; k < K; k++) sum += load<T>(a + <usize>k * es) * load<T>(B + <usize>k * es);
    const c = C + <usize>(i * ldc) * es;
    store<T>(c, accumulate != 0 ? load<T>(c) + sum : sum);
  }
}

/** M == 1, B rows contiguous: C[0, :] (+)= sum_k A(0, k) B[k, :]. */
@inline
function gemmAxpyRows<T>(N: i32, K: i32, A: usize, acs: i32, B: usize, brs: i32, C: usize, accumulate: i32): void {
  const es = sizeof<T>();
  const L: i32 = 16 / <i32>es;
  if (accumulate == 0) memory.fill(C, 0, <usize>N * es);
  for (let k = 0; k < K; k++) {
    const av = load<T>(A + <usize>(k * acs) * es);
    const a = v128.splat<T>(av);
    const b = B + <usize>(k * brs) * es;
    let j = 0;
    for (; j + L <= N; j += L) {
      const o = <usize>j * es;
      v128.store(C + o, v128.add<T>(v128.load(C + o), v128.mul<T>(a, v128.load(b + o))));
    }
    for (; j < N; j++) {
      const o = <usize>j * es;
      store<T>(C + o, load<T>(C + o) + av * load<T>(b + o));
    }
  }
}

/** K == 1, B row contiguous: C[i, :] (+)= A(i, 0) B[0, :]. */
@inline
function gemmOuter<T>(M: i32, N: i32, A: usize, ars: i32, B: usize, C: usize, ldc: i32, accumulate: i32): void {
  const es = sizeof<T>();
  const L: i32 = 16 / <i32>es;
  for (let i = 0; i < M; i++) {
    const av = load<T>(A + <usize>(i * ars) * es);
    const a = v128.splat<T>(av);
    const c = C + <usize>(i * ldc) * es;
    let j = 0;
    for (; j + L <= N; j += L) {
      const o = <usize>j * es;
      const p = v128.mul<T>(a, v128.load(B + o));
      v128.store(c + o, accumulate != 0 ? v128.add<T>(v128.load(c + o), p) : p);
    }
    for (; j < N; j++) {
      const o = <usize>j * es;
      const p = av * load<T>(B + o);
      store<T>(c + o, accumulate != 0 ? load<T>(c + o) + p : p);
    }
  }
}

/** Returns true when a direct loop handled the product. */
@inline
function gemmSpecial<T>(
  M: i32, N: i32, K: i32, A: usize, ars: i32, acs: i32, B: usize, brs: i32, bcs: i32,
  C: usize, ldc: i32, accumulate: i32,
): bool {
  if (N == 1 && acs == 1 && brs == 1) {
    gemmDotRows<T>(M, K, A, ars, B, C, ldc, accumulate);
    return true;
  }
  if (M == 1 && bcs == 1) {
    gemmAxpyRows<T>(N, K, A, acs, B, brs, C, accumulate);
    return true;
  }
  if (K == 1 && bcs == 1) {
    gemmOuter<T>(M, N, A, ars, B, C, ldc, accumulate);
    return true;
  }
  return false;
}


// ---------------------------------------------------------------------------------------------
// Narrow products (N <= 4 micro-panels, e.g. every layer of a small deep linear network, or
// dW of a narrow input layer): A would be re-read only a few times, so packing it (a
// broadcast store per element) costs more than it saves. These read A in place and B in place
// when its rows are contiguous (else from a K x N copy), with the same register tile.

/** As the packed kernel, reading A and B where they lie: A(r, k) at a + r*ars + k*acs, B(k, :) at b + k*brs (bytes). */
function kernU<T>(kc: i32, a: usize, ars: usize, acs: usize, mr: i32, b: usize, brs: usize, c: usize, ldc: usize, beta: bool): void {
  // Rows past mr re-read row 0 (their results are discarded), so nothing is read past A.
  let a0 = a;
  let a1 = mr > 1 ? a + ars : a;
  let a2 = mr > 2 ? a + 2 * ars : a;
  let a3 = mr > 3 ? a + 3 * ars : a;
  let c00 = v128.splat<T>(<T>0); let c01 = v128.splat<T>(<T>0);
  let c10 = v128.splat<T>(<T>0); let c11 = v128.splat<T>(<T>0);
  let c20 = v128.splat<T>(<T>0); let c21 = v128.splat<T>(<T>0);
  let c30 = v128.splat<T>(<T>0); let c31 = v128.splat<T>(<T>0);
  let av: v128;
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    av = v128.load_splat<T>(a0);
    c00 = madd<T>(av, b0, c00);
    c01 = madd<T>(av, b1, c01);
    av = v128.load_splat<T>(a1);
    c10 = madd<T>(av, b0, c10);
    c11 = madd<T>(av, b1, c11);
    av = v128.load_splat<T>(a2);
    c20 = madd<T>(av, b0, c20);
    c21 = madd<T>(av, b1, c21);
    av = v128.load_splat<T>(a3);
    c30 = madd<T>(av, b0, c30);
    c31 = madd<T>(av, b1, c31);
    a0 += acs;
    a1 += acs;
    a2 += acs;
    a3 += acs;
    b += brs;
  }
  if (beta) {
    c00 = v128.add<T>(c00, v128.load(c));
    c01 = v128.add<T>(c01, v128.load(c, 16));
    c10 = v128.add<T>(c10, v128.load(c + ldc));
    c11 = v128.add<T>(c11, v128.load(c + ldc, 16));
    c20 = v128.add<T>(c20, v128.load(c + 2 * ldc));
    c21 = v128.add<T>(c21, v128.load(c + 2 * ldc, 16));
    c30 = v128.add<T>(c30, v128.load(c + 3 * ldc));
    c31 = v128.add<T>(c31, v128.load(c + 3 * ldc, 16));
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c + ldc, c10);
  v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20);
  v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30);
  v128.store(c + 3 * ldc, c31, 16);
}

function gemmNarrow<T>(
  M: i32, N: i32, K: i32, A: usize, ars: i32, acs: i32, B: usize, brs: i32, bcs: i32,
  C: usize, ldc: i32, accumulate: i32, work: usize,
): void {
  const es = sizeof<T>();
  const NR = nr<T>();
  const nPad = ((N + NR - 1) / NR) * NR;
  let bp = B;
  let bRow = <usize>brs * es;
  if (bcs != 1) {
    bp = work;
    bRow = <usize>nPad * es;
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < nPad; j++) {
        store<T>(bp + <usize>(k * nPad + j) * es, j < N ? load<T>(B + <usize>(k * brs + j * bcs) * es) : <T>0);
      }
    }
  }
  const tile = work + (bcs != 1 ? (<usize>(K * nPad) * es + 15) & ~15 : 0);
  const beta = accumulate != 0;
  for (let jr = 0; jr < N; jr += NR) {
    const ncols = min(NR, N - jr);
    for (let ir = 0; ir < M; ir += MR) {
      const mr = min(MR, M - ir);
      const ap = A + <usize>(ir * ars) * es;
      const b = bp + <usize>jr * es;
      const cp = C + <usize>(ir * ldc + jr) * es;
      if (mr == MR && ncols == NR) {
        kernU<T>(K, ap, <usize>ars * es, <usize>acs * es, mr, b, bRow, cp, <usize>ldc * es, beta);
      } else {
        kernU<T>(K, ap, <usize>ars * es, <usize>acs * es, mr, b, bRow, tile, <usize>NR * es, false);
        for (let r = 0; r < mr; r++) {
          for (let c = 0; c < ncols; c++) {
            const dst = cp + <usize>(r * ldc + c) * es;
            const v = load<T>(tile + <usize>(r * NR + c) * es);
            store<T>(dst, beta ? load<T>(dst) + v : v);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GEMM drivers: C[M, N] (+)= A[M, K] B[K, N] with A(i,k) = A[i*ars + k*acs],
// B(k,j) = B[k*brs + j*bcs], C row-major with leading dimension ldc. accumulate = 0 overwrites C.
// work must hold packBytes(N, .) bytes, 16-byte aligned. Each export calls its instantiation,
// which compiles to the same instructions as a copy written out for that type.

function gemm<T>(
  M: i32, N: i32, K: i32,
  A: usize, ars: i32, acs: i32,
  B: usize, brs: i32, bcs: i32,
  C: usize, ldc: i32, accumulate: i32, work: usize,
): void {
  if (gemmSpecial<T>(M, N, K, A, ars, acs, B, brs, bcs, C, ldc, accumulate)) return;
  if (N <= narrow<T>()) {
    gemmNarrow<T>(M, N, K, A, ars, acs, B, brs, bcs, C, ldc, accumulate, work);
    return;
  }
  const es = sizeof<T>();
  const NR = nr<T>();
  const nPad = ((N + NR - 1) / NR) * NR;
  const pb = work;
  const pa = pb + <usize>(KC * nPad) * es;
  const tile = pa + <usize>(MC * KC) * 16;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    packB<T>(B, brs, bcs, N, pc, kc, pb, NR);
    const beta = accumulate != 0 || pc > 0;
    for (let ic = 0; ic < M; ic += MC) {
      const mc = min(MC, M - ic);
      packA<T>(A, ars, acs, ic, mc, pc, kc, pa, MR);
      for (let jr = 0; jr < N; jr += NR) {
        const ncols = min(NR, N - jr);
        const bp = pb + <usize>(jr * kc) * es;
        for (let ir = 0; ir < mc; ir += MR) {
          const mr = min(MR, mc - ir);
          const ap = pa + (<usize>(ir * kc) << 4);
          const cp = C + <usize>((ic + ir) * ldc + jr) * es;
          if (mr == MR && ncols == NR) {
            kern<T>(kc, ap, bp, cp, <usize>ldc * es, beta);
          } else {
            kern<T>(kc, ap, bp, tile, <usize>NR * es, false);
            for (let r = 0; r < mr; r++) {
              for (let c = 0; c < ncols; c++) {
                const dst = cp + <usize>(r * ldc + c) * es;
                const v = load<T>(tile + <usize>(r * NR + c) * es);
                store<T>(dst, beta ? load<T>(dst) + v : v);
              }
            }
          }
        }
      }
    }
  }
}

export function gemm_f64(
  M: i32, N: i32, K: i32, A: usize, ars: i32, acs: i32, B: usize, brs: i32, bcs: i32,
  C: usize, ldc: i32, accumulate: i32, work: usize,
): void {
  gemm<f64>(M, N, K, A, ars, acs, B, brs, bcs, C, ldc, accumulate, work);
}

export function gemm_f32(
  M: i32, N: i32, K: i32, A: usize, ars: i32, acs: i32, B: usize, brs: i32, bcs: i32,
  C: usize, ldc: i32, accumulate: i32, work: usize,
): void {
  gemm<f32>(M, N, K, A, ars, acs, B, brs, bcs, C, ldc, accumulate, work);
}

// ---------------------------------------------------------------------------------------------
// Elementwise parts of the network (O(rows * width), so plain scalar loops suffice).

// ACTIVATION_CODE of src/engine/types.ts (the host passes these numbers).
const ACT_IDENTITY: i32 = 0;
const ACT_RELU: i32 = 1;
const ACT_TANH: i32 = 2;
const ACT_GELU: i32 = 3;
const GELU_C: f64 = 0.7978845608028654; // sqrt(2 / pi)
const GELU_A: f64 = 0.044715;
const LN_EPS: f64 = 1e-5;

const C64_1: f64 = 1.0; // 1/1!
const C64_2: f64 = 0.5; // 1/2!
const C64_3: f64 = 0.16666666666666666; // 1/3!
const C64_4: f64 = 0.041666666666666664; // 1/4!
const C64_5: f64 = 0.008333333333333333; // 1/5!
const C64_6: f64 = 0.001388888888888889; // 1/6!
const C64_7: f64 = 0.0001984126984126984; // 1/7!
const C64_8: f64 = 2.48015873015873e-05; // 1/8!
const C64_9: f64 = 2.7557319223985893e-06; // 1/9!
const C64_10: f64 = 2.755731922398589e-07; // 1/10!
const C64_11: f64 = 2.505210838544172e-08; // 1/11!
const C64_12: f64 = 2.08767569878681e-09; // 1/12!
const C64_13: f64 = 1.6059043836821613e-10; // 1/13!

// Vector tanh. The scalar Math.tanh costs ~20-40 ns an element here, as much as the GEMMs of a
// tanh network, so tanh layers use this instead:
//   tanh(|x|) = (0 - e) / (2 + e),  e = expm1(-2|x|)   (0 - e rather than -e: tanh(+0) = +0),
// with expm1 by Cody-Waite reduction y = n ln2 + r, |r| <= ln2/2, a Taylor polynomial for
// expm1(r) (degree 13 for f64, 8 for f32: truncation below half an ulp), and
// expm1(y) = 2^n expm1(r) + (2^n - 1); the exponent 2^n is built from bits. There is no
// cancellation: for n = 0 the result is the polynomial itself, for n < 0 both terms are negative.
// Absolute error is a few ulps of 1, so f64 results agree with Math.tanh to ~1e-16.
// |x| is clamped where tanh rounds to 1 (20 for f64, 9 for f32), which bounds n for the bit trick.

@inline
function tanhV64(x: v128): v128 {
  const y = f64x2.mul(f64x2.pmin(f64x2.abs(x), f64x2.splat(20.0)), f64x2.splat(-2.0));
  const n = f64x2.nearest(f64x2.mul(y, f64x2.splat(1.4426950408889634)));
  const r = f64x2.sub(
    f64x2.sub(y, f64x2.mul(n, f64x2.splat(6.93147180369123816490e-01))),
    f64x2.mul(n, f64x2.splat(1.90821492927058770002e-10)),
  );
  let p = f64x2.splat(C64_13);
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(C64_12));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(C64_11));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(C64_10));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(C64_9));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(C64_8));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(C64_7));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(C64_6));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(C64_5));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(C64_4));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(C64_3));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(C64_2));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(C64_1));
  p = f64x2.mul(p, r);
  // 2^n: n + 1023 sits in the low mantissa bits of n + (2^52 + 1023); shift it into the exponent.
  const twoN = i64x2.shl(f64x2.add(n, f64x2.splat(4503599627371519.0)), 52);
  const e = f64x2.add(f64x2.mul(twoN, p), f64x2.sub(twoN, f64x2.splat(1.0)));
  const t = f64x2.div(f64x2.sub(f64x2.splat(0), e), f64x2.add(e, f64x2.splat(2.0)));
  return v128.or(t, v128.and(x, i64x2.splat(0x8000000000000000)));
}

@inline
function tanhV32(x: v128): v128 {
  const y = f32x4.mul(f32x4.pmin(f32x4.abs(x), f32x4.splat(9.0)), f32x4.splat(-2.0));
  const n = f32x4.nearest(f32x4.mul(y, f32x4.splat(1.4426950408889634)));
  const r = f32x4.sub(
    f32x4.sub(y, f32x4.mul(n, f32x4.splat(6.9314575195e-01))),
    f32x4.mul(n, f32x4.splat(1.4286067653e-06)),
  );
  let p = f32x4.splat(<f32>C64_8);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>C64_7));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>C64_6));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>C64_5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>C64_4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>C64_3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>C64_2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>C64_1));
  p = f32x4.mul(p, r);
  const twoN = i32x4.shl(f32x4.add(n, f32x4.splat(8388735.0)), 23); // 2^23 + 127
  const e = f32x4.add(f32x4.mul(twoN, p), f32x4.sub(twoN, f32x4.splat(1.0)));
  const t = f32x4.div(f32x4.sub(f32x4.splat(0), e), f32x4.add(e, f32x4.splat(2.0)));
  return v128.or(t, v128.and(x, i32x4.splat(0x80000000)));
}

@inline
function tanhV<T>(x: v128): v128 {
  if (sizeof<T>() == 8) {
    return tanhV64(x);
  } else {
    return tanhV32(x);
  }
}

@inline
function tanhT<T>(x: T): T {
  if (sizeof<T>() == 4) {
    return <T>Mathf.tanh(<f32>x);
  } else {
    return <T>Math.tanh(<f64>x);
  }
}

@inline
function sqrtT<T>(x: T): T {
  if (sizeof<T>() == 4) {
    return <T>Mathf.sqrt(<f32>x);
  } else {
    return <T>Math.sqrt(<f64>x);
  }
}

/** Row gather: dst[i, :] = X[rows[i], :]. */
@inline
function gather<T>(X: usize, rows: usize, m: i32, d: i32, dst: usize): void {
  const es = sizeof<T>();
  for (let i = 0; i < m; i++) {
    const src = X + <usize>(load<i32>(rows + (<usize>i << 2)) * d) * es;
    const o = dst + <usize>(i * d) * es;
    memory.copy(o, src, <usize>d * es);
  }
}

/** z += bias per column. */
@inline
function biasAdd<T>(z: usize, bias: usize, m: i32, w: i32): void {
  const es = sizeof<T>();
  const L: i32 = 16 / <i32>es;
  for (let i = 0; i < m; i++) {
    const row = z + <usize>(i * w) * es;
    let j = 0;
    for (; j + L <= w; j += L) {
      const o = <usize>j * es;
      v128.store(row + o, v128.add<T>(v128.load(row + o), v128.load(bias + o)));
    }
    for (; j < w; j++) {
      const p = row + <usize>j * es;
      store<T>(p, load<T>(p) + load<T>(bias + <usize>j * es));
    }
  }
}

/**
 * Hidden layer after its GEMM, in place: z = act(z + bias), optionally deriv = act'(z + bias),
 * then optional LayerNorm per row (rstd receives 1/std). bias / deriv = 0 means absent.
 */
@inline
function hiddenFwd<T>(z: usize, bias: usize, m: i32, w: i32, act: i32, deriv: usize, ln: i32, rstd: usize): void {
  const es = sizeof<T>();
  if (bias != 0) biasAdd<T>(z, bias, m, w);
  const len = m * w;
  if (act == ACT_RELU) {
    // x & (x > 0): the same zero for NaN and -0 as the scalar form x > 0 ? x : 0.
    const L: i32 = 16 / <i32>es;
    const zero = v128.splat<T>(<T>0);
    const one = v128.splat<T>(<T>1);
    let i = 0;
    for (; i + L <= len; i += L) {
      const p = z + <usize>i * es;
      const x = v128.load(p);
      const mask = v128.gt<T>(x, zero);
      v128.store(p, v128.and(x, mask));
      if (deriv != 0) v128.store(deriv + <usize>i * es, v128.and(one, mask));
    }
    for (; i < len; i++) {
      const p = z + <usize>i * es;
      const x = load<T>(p);
      const pos = x > <T>0;
      store<T>(p, pos ? x : <T>0);
      if (deriv != 0) store<T>(deriv + <usize>i * es, pos ? <T>1 : <T>0);
    }
  } else if (act == ACT_TANH) {
    const L: i32 = 16 / <i32>es;
    const one = v128.splat<T>(<T>1);
    let i = 0;
    for (; i + L <= len; i += L) {
      const p = z + <usize>i * es;
      const t = tanhV<T>(v128.load(p));
      v128.store(p, t);
      if (deriv != 0) v128.store(deriv + <usize>i * es, v128.sub<T>(one, v128.mul<T>(t, t)));
    }
    for (; i < len; i++) {
      const p = z + <usize>i * es;
      const t = tanhT<T>(load<T>(p));
      store<T>(p, t);
      if (deriv != 0) store<T>(deriv + <usize>i * es, <T>1 - t * t);
    }
  } else if (act == ACT_GELU) {
    const L: i32 = 16 / <i32>es;
    const one = v128.splat<T>(<T>1);
    const half = v128.splat<T>(<T>0.5);
    const gc = v128.splat<T>(<T>GELU_C);
    const ga = v128.splat<T>(<T>GELU_A);
    const ga3 = v128.splat<T>(<T>(3 * GELU_A));
    let i = 0;
    for (; i + L <= len; i += L) {
      const p = z + <usize>i * es;
      const x = v128.load(p);
      const x2 = v128.mul<T>(x, x);
      const t = tanhV<T>(v128.mul<T>(gc, v128.add<T>(x, v128.mul<T>(ga, v128.mul<T>(x2, x)))));
      const onePlusT = v128.add<T>(one, t);
      const hx = v128.mul<T>(half, x);
      v128.store(p, v128.mul<T>(hx, onePlusT));
      if (deriv != 0) {
        const sech2 = v128.sub<T>(one, v128.mul<T>(t, t));
        const inner = v128.mul<T>(gc, v128.add<T>(one, v128.mul<T>(ga3, x2)));
        v128.store(
          deriv + <usize>i * es,
          v128.add<T>(v128.mul<T>(half, onePlusT), v128.mul<T>(hx, v128.mul<T>(sech2, inner))),
        );
      }
    }
    for (; i < len; i++) {
      const p = z + <usize>i * es;
      const x = load<T>(p);
      const x2 = x * x;
      const t = tanhT<T>(<T>GELU_C * (x + <T>GELU_A * x2 * x));
      store<T>(p, <T>0.5 * x * (<T>1 + t));
      if (deriv != 0) {
        store<T>(
          deriv + <usize>i * es,
          <T>0.5 * (<T>1 + t) + <T>0.5 * x * (<T>1 - t * t) * <T>GELU_C * (<T>1 + <T>(3 * GELU_A) * x2),
        );
      }
    }
  }
  if (ln == 0) return;
  const invW = <T>1 / <T>w;
  const L: i32 = 16 / <i32>es;
  const wv = w - w % L;
  for (let i = 0; i < m; i++) {
    const row = z + <usize>(i * w) * es;
    let acc = v128.splat<T>(<T>0);
    for (let j = 0; j < wv; j += L) acc = v128.add<T>(acc, v128.load(row + <usize>j * es));
    let mu = hsum<T>(acc);
    for (let j = wv; j < w; j++) mu += load<T>(row + <usize>j * es);
    mu *= invW;
    const muv = v128.splat<T>(mu);
    acc = v128.splat<T>(<T>0);
    for (let j = 0; j < wv; j += L) {
      const c = v128.sub<T>(v128.load(row + <usize>j * es), muv);
      acc = v128.add<T>(acc, v128.mul<T>(c, c));
    }
    let v = hsum<T>(acc);
    for (let j = wv; j < w; j++) {
      const c = load<T>(row + <usize>j * es) - mu;
      v += c * c;
    }
    const r = <T>1 / sqrtT<T>(v * invW + <T>LN_EPS);
    if (rstd != 0) store<T>(rstd + <usize>i * es, r);
    const rv = v128.splat<T>(r);
    for (let j = 0; j < wv; j += L) {
      const p = row + <usize>j * es;
      v128.store(p, v128.mul<T>(v128.sub<T>(v128.load(p), muv), rv));
    }
    for (let j = wv; j < w; j++) {
      const p = row + <usize>j * es;
      store<T>(p, (load<T>(p) - mu) * r);
    }
  }
}

/**
 * In place: dh (gradient w.r.t. a hidden layer's output h) -> gradient w.r.t. its
 * pre-activation, through LayerNorm (h is the normalised output) and the activation.
 */
@inline
function hiddenBwd<T>(dh: usize, h: usize, deriv: usize, rstd: usize, m: i32, w: i32, ln: i32, act: i32): void {
  const es = sizeof<T>();
  if (ln != 0) {
    const invW = <T>1 / <T>w;
    const L: i32 = 16 / <i32>es;
    const wv = w - w % L;
    for (let i = 0; i < m; i++) {
      const drow = dh + <usize>(i * w) * es;
      const hrow = h + <usize>(i * w) * es;
      let a1 = v128.splat<T>(<T>0);
      let a2 = v128.splat<T>(<T>0);
      for (let j = 0; j < wv; j += L) {
        const g = v128.load(drow + <usize>j * es);
        a1 = v128.add<T>(a1, g);
        a2 = v128.add<T>(a2, v128.mul<T>(g, v128.load(hrow + <usize>j * es)));
      }
      let s1 = hsum<T>(a1);
      let s2 = hsum<T>(a2);
      for (let j = wv; j < w; j++) {
        const g = load<T>(drow + <usize>j * es);
        s1 += g;
        s2 += g * load<T>(hrow + <usize>j * es);
      }
      s1 *= invW;
      s2 *= invW;
      const r = load<T>(rstd + <usize>i * es);
      const rv = v128.splat<T>(r);
      const s1v = v128.splat<T>(s1);
      const s2v = v128.splat<T>(s2);
      for (let j = 0; j < wv; j += L) {
        const p = drow + <usize>j * es;
        const hv = v128.load(hrow + <usize>j * es);
        v128.store(p, v128.mul<T>(rv, v128.sub<T>(v128.sub<T>(v128.load(p), s1v), v128.mul<T>(hv, s2v))));
      }
      for (let j = wv; j < w; j++) {
        const p = drow + <usize>j * es;
        store<T>(p, r * (load<T>(p) - s1 - load<T>(hrow + <usize>j * es) * s2));
      }
    }
  }
  if (act != ACT_IDENTITY) {
    const len = m * w;
    const L: i32 = 16 / <i32>es;
    let i = 0;
    for (; i + L <= len; i += L) {
      const o = <usize>i * es;
      v128.store(dh + o, v128.mul<T>(v128.load(dh + o), v128.load(deriv + o)));
    }
    for (; i < len; i++) {
      const p = dh + <usize>i * es;
      store<T>(p, load<T>(p) * load<T>(deriv + <usize>i * es));
    }
  }
}

/** dst[j] (+)= sum_i dz[i, j] (the bias gradient); accumulate = 0 overwrites dst. */
@inline
function colsum<T>(dz: usize, m: i32, w: i32, dst: usize, accumulate: i32): void {
  const es = sizeof<T>();
  const L: i32 = 16 / <i32>es;
  if (accumulate == 0) memory.fill(dst, 0, <usize>w * es);
  for (let i = 0; i < m; i++) {
    const row = dz + <usize>(i * w) * es;
    let j = 0;
    for (; j + L <= w; j += L) {
      const o = <usize>j * es;
      v128.store(dst + o, v128.add<T>(v128.load(dst + o), v128.load(row + o)));
    }
    for (; j < w; j++) {
      const p = dst + <usize>j * es;
      store<T>(p, load<T>(p) + load<T>(row + <usize>j * es));
    }
  }
}

/**
 * Loss of m rows x q outputs of the network output against Y (rows = 0: Y row i, else Y row
 * rows[i]), summed and divided by cnt, the number of terms in the whole batch (the host runs a
 * batch in row chunks and adds the chunks' values). kind 0 = mse, 1 = student-t, 2 = softmax
 * cross-entropy (one term per row; Y holds class probabilities; q = 1 is the binary logit).
 * When dOut != 0 writes dL/dOut. Accumulates in f64 in both precisions.
 */
@inline
function lossOut<T>(
  out: usize, Y: usize, rows: usize, m: i32, q: i32, kind: i32, nu: f64, sigma: f64, dOut: usize, cnt: f64,
): f64 {
  if (kind == 2) return crossEntropyOut<T>(out, Y, rows, m, q, dOut, cnt);
  const es = sizeof<T>();
  const s2 = nu * sigma * sigma;
  let total: f64 = 0;
  for (let i = 0; i < m; i++) {
    const yr = rows == 0 ? i : load<i32>(rows + (<usize>i << 2));
    for (let j = 0; j < q; j++) {
      const r = <f64>load<T>(out + <usize>(i * q + j) * es) - <f64>load<T>(Y + <usize>(yr * q + j) * es);
      let g: f64;
      if (kind == 0) {
        total += r * r;
        g = (2 * r) / cnt;
      } else {
        total += 0.5 * (nu + 1) * Math.log1p((r * r) / s2);
        g = ((nu + 1) * r) / (s2 + r * r) / cnt;
      }
      if (dOut != 0) store<T>(dOut + <usize>(i * q + j) * es, <T>g);
    }
  }
  return total / cnt;
}

/** Softmax cross-entropy over each row's q logits (q = 1: binary, softplus(z) - y z). */
@inline
function crossEntropyOut<T>(out: usize, Y: usize, rows: usize, m: i32, q: i32, dOut: usize, cnt: f64): f64 {
  const es = sizeof<T>();
  let total: f64 = 0;
  for (let i = 0; i < m; i++) {
    const yr = rows == 0 ? i : load<i32>(rows + (<usize>i << 2));
    const zp = out + <usize>(i * q) * es;
    const yp = Y + <usize>(yr * q) * es;
    if (q == 1) {
      const z = <f64>load<T>(zp);
      const y = <f64>load<T>(yp);
      total += Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - y * z;
      if (dOut != 0) store<T>(dOut + <usize>i * es, <T>((1 / (1 + Math.exp(-z)) - y) / cnt));
      continue;
    }
    let mx: f64 = -Infinity;
    for (let j = 0; j < q; j++) mx = Math.max(mx, <f64>load<T>(zp + <usize>j * es));
    let se: f64 = 0;
    for (let j = 0; j < q; j++) se += Math.exp(<f64>load<T>(zp + <usize>j * es) - mx);
    const lse = mx + Math.log(se);
    let ys: f64 = 0;
    for (let j = 0; j < q; j++) {
      const y = <f64>load<T>(yp + <usize>j * es);
      ys += y;
      total -= y * <f64>load<T>(zp + <usize>j * es);
    }
    total += ys * lse;
    if (dOut != 0) {
      for (let j = 0; j < q; j++) {
        const g = (ys * Math.exp(<f64>load<T>(zp + <usize>j * es) - lse) - <f64>load<T>(yp + <usize>j * es)) / cnt;
        store<T>(dOut + <usize>(i * q + j) * es, <T>g);
      }
    }
  }
  return total / cnt;
}

// Monomorphic exports (the host picks _f64 or _f32 by dtype).
export function gather_f64(X: usize, rows: usize, m: i32, d: i32, dst: usize): void { gather<f64>(X, rows, m, d, dst); }
export function gather_f32(X: usize, rows: usize, m: i32, d: i32, dst: usize): void { gather<f32>(X, rows, m, d, dst); }
export function bias_add_f64(z: usize, b: usize, m: i32, w: i32): void { biasAdd<f64>(z, b, m, w); }
export function bias_add_f32(z: usize, b: usize, m: i32, w: i32): void { biasAdd<f32>(z, b, m, w); }
export function hidden_fwd_f64(z: usize, b: usize, m: i32, w: i32, act: i32, d: usize, ln: i32, rstd: usize): void {
  hiddenFwd<f64>(z, b, m, w, act, d, ln, rstd);
}
export function hidden_fwd_f32(z: usize, b: usize, m: i32, w: i32, act: i32, d: usize, ln: i32, rstd: usize): void {
  hiddenFwd<f32>(z, b, m, w, act, d, ln, rstd);
}
export function hidden_bwd_f64(dh: usize, h: usize, d: usize, rstd: usize, m: i32, w: i32, ln: i32, act: i32): void {
  hiddenBwd<f64>(dh, h, d, rstd, m, w, ln, act);
}
export function hidden_bwd_f32(dh: usize, h: usize, d: usize, rstd: usize, m: i32, w: i32, ln: i32, act: i32): void {
  hiddenBwd<f32>(dh, h, d, rstd, m, w, ln, act);
}
export function colsum_f64(dz: usize, m: i32, w: i32, dst: usize, acc: i32): void { colsum<f64>(dz, m, w, dst, acc); }
export function colsum_f32(dz: usize, m: i32, w: i32, dst: usize, acc: i32): void { colsum<f32>(dz, m, w, dst, acc); }
export function loss_f64(
  out: usize, Y: usize, rows: usize, m: i32, q: i32, kind: i32, nu: f64, sigma: f64, dOut: usize, cnt: f64,
): f64 {
  return lossOut<f64>(out, Y, rows, m, q, kind, nu, sigma, dOut, cnt);
}
export function loss_f32(
  out: usize, Y: usize, rows: usize, m: i32, q: i32, kind: i32, nu: f64, sigma: f64, dOut: usize, cnt: f64,
): f64 {
  return lossOut<f32>(out, Y, rows, m, q, kind, nu, sigma, dOut, cnt);
}
