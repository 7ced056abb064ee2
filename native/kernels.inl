// The native engine's kernels and network driver, written once over GCC vector extensions and
// compiled once per instruction set: isa_avx512.cc, isa_avx2.cc and isa_base.cc include this
// file after a `#pragma GCC target(...)` with LH_ISA = 3, 2 or 1 and their own namespace LH_NS,
// so each build has its own copy of every function (see engine.h on why nothing is shared).
// Only the vector width, the masked loads/stores and the register tile differ between builds.
//
// GEMM follows the BLIS structure: a kc-deep slice of B in NR-wide micro-panels and a
// register-blocked micro-kernel that accumulates an MR x NR tile of C over kc with one broadcast
// of A per row and NR/W vector loads of B per step, over mc-row blocks of A. Unlike a general
// BLAS, A is never packed for the network's products: the kernel broadcasts its elements from
// where they lie (row-major A through MR row pointers, or A with contiguous columns), which
// measured faster than packing on this CPU. B is packed when it must be transposed (Z = H W^T)
// or when its rows are wide (see gemm); the network's three products (Z = H W^T, dW = dZ^T H,
// dH = dZ W) thus copy at most one operand, and narrow layers (deep linear nets) copy nothing.
//
// The bias, the activation (forward) and the activation derivative (backward) are applied to
// the tile in registers as it is stored, when they do not need a whole row (LayerNorm does).

#ifndef LH_ISA
#error "define LH_ISA (3 avx512, 2 avx2, 1 baseline), LH_NS, LH_NAME and LH_TABLE before including kernels.inl"
#endif

namespace lh {
namespace LH_NS {
namespace {

#if LH_ISA == 3
constexpr int VBYTES = 64;
#elif LH_ISA == 2
constexpr int VBYTES = 32;
#else
constexpr int VBYTES = 16;
#endif

template <class T> struct IntOf;
template <> struct IntOf<double> { typedef int64_t type; };
template <> struct IntOf<float> { typedef int32_t type; };

template <class T>
struct S {
  static constexpr int W = VBYTES / static_cast<int>(sizeof(T));
  typedef T V __attribute__((vector_size(VBYTES)));
  // Unaligned access: the same vector with the element's alignment.
  typedef T VU __attribute__((vector_size(VBYTES), aligned(sizeof(T)), may_alias));
  typedef typename IntOf<T>::type I;
  typedef I IV __attribute__((vector_size(VBYTES)));
};

template <class T> using Vec = typename S<T>::V;

#define LH_INLINE inline __attribute__((always_inline))

template <class T> LH_INLINE Vec<T> vload(const T* p) { return *reinterpret_cast<const typename S<T>::VU*>(p); }
template <class T> LH_INLINE void vstore(T* p, Vec<T> v) { *reinterpret_cast<typename S<T>::VU*>(p) = v; }
template <class T> LH_INLINE Vec<T> vsplat(T s) { return Vec<T>{} + s; }

// Loads lanes [0, n) and zeroes the rest; stores lanes [0, n). Never touches memory past p + n.
#if LH_ISA == 3
LH_INLINE Vec<double> loadN(const double* p, int n) {
  return reinterpret_cast<Vec<double>>(_mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << n) - 1), p));
}
LH_INLINE void storeN(double* p, Vec<double> v, int n) {
  _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << n) - 1), reinterpret_cast<__m512d>(v));
}
LH_INLINE Vec<float> loadN(const float* p, int n) {
  return reinterpret_cast<Vec<float>>(_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p));
}
LH_INLINE void storeN(float* p, Vec<float> v, int n) {
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), reinterpret_cast<__m512>(v));
}
#elif LH_ISA == 2
LH_INLINE __m256i laneMask64(int n) { return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3)); }
LH_INLINE __m256i laneMask32(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
LH_INLINE Vec<double> loadN(const double* p, int n) { return reinterpret_cast<Vec<double>>(_mm256_maskload_pd(p, laneMask64(n))); }
LH_INLINE void storeN(double* p, Vec<double> v, int n) { _mm256_maskstore_pd(p, laneMask64(n), reinterpret_cast<__m256d>(v)); }
LH_INLINE Vec<float> loadN(const float* p, int n) { return reinterpret_cast<Vec<float>>(_mm256_maskload_ps(p, laneMask32(n))); }
LH_INLINE void storeN(float* p, Vec<float> v, int n) { _mm256_maskstore_ps(p, laneMask32(n), reinterpret_cast<__m256>(v)); }
#else
template <class T> LH_INLINE Vec<T> loadN(const T* p, int n) {
  T tmp[S<T>::W] = {};
  for (int i = 0; i < n; i++) tmp[i] = p[i];
  return vload(tmp);
}
template <class T> LH_INLINE void storeN(T* p, Vec<T> v, int n) {
  for (int i = 0; i < n; i++) p[i] = v[i];
}
#endif

template <class T> LH_INLINE T hsum(Vec<T> v) {
  T s = 0;
  for (int i = 0; i < S<T>::W; i++) s += v[i];
  return s;
}

// Lanes [cnt, W) set to zero.
template <class T> LH_INLINE Vec<T> keepLanes(Vec<T> v, int cnt) {
  typename S<T>::IV idx;
  for (int i = 0; i < S<T>::W; i++) idx[i] = i;
  return idx < cnt ? v : Vec<T>{};
}

LH_INLINE double sqrtT(double x) { return __builtin_sqrt(x); }
LH_INLINE float sqrtT(float x) { return __builtin_sqrtf(x); }

LH_INLINE int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
LH_INLINE int lanes(int n, int v, int W) {
  const int c = n - v * W;
  return c < 0 ? 0 : (c > W ? W : c);
}

// ---------------------------------------------------------------------------------------------
// Register tile and blocking. AVX-512: 12 x 2 accumulators of the 32 zmm registers, plus two B
// vectors and one broadcast of A. AVX2 / baseline have 16 registers: 6 x 2 (AVX2) and 4 x 2
// (SSE2, no FMA, so each product needs a temporary). kc = 512 was measured best on Zen 5
// (AVX-512) for both dtypes: a 512-deep layer then needs a single pass over C, which costs more
// than the B micro-panel outgrowing L1; mc (the rows each B micro-panel sweeps) measured flat
// from 48 to 1024.

template <class T>
struct Cfg {
#if LH_ISA == 3
  static constexpr int MR = 12;
  static constexpr int MC = 96;
#elif LH_ISA == 2
  static constexpr int MR = 6;
  static constexpr int MC = 96;
#else
  static constexpr int MR = 4;
  static constexpr int MC = 64;
#endif
  static constexpr int NV = 2;
  static constexpr int W = S<T>::W;
  static constexpr int NR = NV * W;
  static constexpr int KC = 512;
  static constexpr int NC = MAX_NC;
  static_assert(MR <= MAX_MR && NR <= MAX_NR && KC <= MAX_KC && MC <= MAX_MC, "blocking exceeds the buffer bounds");
  static_assert(MC % MR == 0, "mc must be a multiple of MR");
};

// ---------------------------------------------------------------------------------------------
// Activations. Vector tanh: the scalar libm tanh costs as much as the GEMMs of a tanh network.
//   tanh(|x|) = (0 - e) / (2 + e),  e = expm1(-2|x|)   (0 - e rather than -e: tanh(+0) = +0),
// expm1 by Cody-Waite reduction y = n ln2 + r, |r| <= ln2/2, a Taylor polynomial for expm1(r)
// (degree 13 for f64, 8 for f32: truncation below half an ulp), and
// expm1(y) = 2^n expm1(r) + (2^n - 1) with 2^n built from bits; no cancellation occurs. |x| is
// clamped where tanh rounds to 1 (20 for f64, 9 for f32), which bounds n for the bit trick;
// the comparison is written so that NaN passes through the clamp.

LH_INLINE Vec<double> tanhV(Vec<double> x) {
  typedef Vec<double> V;
  typedef S<double>::IV IV;
  const V ax = reinterpret_cast<V>(reinterpret_cast<IV>(x) & (IV{} + INT64_MAX));
  const V cl = ax > 20.0 ? V{} + 20.0 : ax;
  const V y = cl * -2.0;
  // Round to nearest integer: adding and removing 1.5 * 2^52 (|y log2 e| < 2^51).
  const V n = (y * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0;
  const V r = (y - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
  V p = V{} + 1.6059043836821613e-10;
  p = p * r + 2.08767569878681e-09;
  p = p * r + 2.505210838544172e-08;
  p = p * r + 2.755731922398589e-07;
  p = p * r + 2.7557319223985893e-06;
  p = p * r + 2.48015873015873e-05;
  p = p * r + 0.0001984126984126984;
  p = p * r + 0.001388888888888889;
  p = p * r + 0.008333333333333333;
  p = p * r + 0.041666666666666664;
  p = p * r + 0.16666666666666666;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r;
  // 2^n: n + 1023 sits in the low mantissa bits of n + (2^52 + 1023); shift it into the exponent.
  const V twoN = reinterpret_cast<V>(reinterpret_cast<IV>(n + 4503599627371519.0) << 52);
  const V e = twoN * p + (twoN - 1.0);
  const V t = (0.0 - e) / (e + 2.0);
  return reinterpret_cast<V>(reinterpret_cast<IV>(t) | (reinterpret_cast<IV>(x) & (IV{} + INT64_MIN)));
}

LH_INLINE Vec<float> tanhV(Vec<float> x) {
  typedef Vec<float> V;
  typedef S<float>::IV IV;
  const V ax = reinterpret_cast<V>(reinterpret_cast<IV>(x) & (IV{} + INT32_MAX));
  const V cl = ax > 9.0f ? V{} + 9.0f : ax;
  const V y = cl * -2.0f;
  const V n = (y * 1.4426950408889634f + 12582912.0f) - 12582912.0f;
  const V r = (y - n * 6.9314575195e-01f) - n * 1.4286067653e-06f;
  V p = V{} + 2.48015873015873e-05f;
  p = p * r + 0.0001984126984126984f;
  p = p * r + 0.001388888888888889f;
  p = p * r + 0.008333333333333333f;
  p = p * r + 0.041666666666666664f;
  p = p * r + 0.16666666666666666f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r;
  const V twoN = reinterpret_cast<V>(reinterpret_cast<IV>(n + 8388735.0f) << 23);  // 2^23 + 127
  const V e = twoN * p + (twoN - 1.0f);
  const V t = (0.0f - e) / (e + 2.0f);
  return reinterpret_cast<V>(reinterpret_cast<IV>(t) | (reinterpret_cast<IV>(x) & (IV{} + INT32_MIN)));
}

constexpr double GELU_C = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double GELU_A = 0.044715;
constexpr double LN_EPS = 1e-5;

// act(x) for identity, relu and tanh (the activations whose derivative follows from the output).
template <class T> LH_INLINE Vec<T> actV(Vec<T> x, int act) {
  if (act == ACT_RELU) return x > T(0) ? x : Vec<T>{};
  if (act == ACT_TANH) return tanhV(x);
  return x;
}

// ---------------------------------------------------------------------------------------------
// Epilogues: what happens to a finished tile of C before it is stored.

enum EpiKind {
  EPI_NONE = 0,
  EPI_BIAS_ACT = 1,  // c = act(c + bias[j]), act identity / relu / tanh, bias optional
  EPI_DRELU = 2,     // c = aux[i, j] > 0 ? c : 0        (aux = the layer's relu output)
  EPI_DTANH = 3,     // c = c * (1 - aux[i, j]^2)        (aux = the layer's tanh output)
  EPI_DMUL = 4,      // c = c * aux[i, j]                (aux = the stored derivative)
};

template <class T>
struct Epilogue {
  int kind = EPI_NONE;
  int act = ACT_IDENTITY;
  const T* bias = nullptr;
  const T* aux = nullptr;
  int64_t ldaux = 0;
};

// x is C[i, j .. j + W) (cnt valid lanes); returns it with the epilogue applied.
template <class T, int EK, bool PART>
LH_INLINE Vec<T> epiVec(Vec<T> x, const Epilogue<T>& e, int64_t i, int64_t j, int cnt) {
  typedef Vec<T> V;
  if (EK == EPI_BIAS_ACT) {
    if (e.bias != nullptr) x += PART ? loadN(e.bias + j, cnt) : vload(e.bias + j);
    return actV<T>(x, e.act);
  }
  if (EK == EPI_NONE) return x;
  const T* p = e.aux + i * e.ldaux + j;
  const V a = PART ? loadN(p, cnt) : vload(p);
  if (EK == EPI_DRELU) return a > T(0) ? x : V{};
  if (EK == EPI_DTANH) return x * (T(1) - a * a);
  return x * a;
}

// Applies the epilogue to n elements of row i of C starting at column j0 (special paths).
template <class T>
void epiRow(T* c, const Epilogue<T>& e, int64_t i, int64_t j0, int n) {
  constexpr int W = S<T>::W;
  if (e.kind == EPI_NONE) return;
  int j = 0;
  for (; j < n; j += W) {
    const int cnt = n - j < W ? n - j : W;
    Vec<T> x = loadN(c + j, cnt);
    switch (e.kind) {
      case EPI_BIAS_ACT: x = epiVec<T, EPI_BIAS_ACT, true>(x, e, i, j0 + j, cnt); break;
      case EPI_DRELU: x = epiVec<T, EPI_DRELU, true>(x, e, i, j0 + j, cnt); break;
      case EPI_DTANH: x = epiVec<T, EPI_DTANH, true>(x, e, i, j0 + j, cnt); break;
      default: x = epiVec<T, EPI_DMUL, true>(x, e, i, j0 + j, cnt); break;
    }
    storeN(c + j, x, cnt);
  }
}

// ---------------------------------------------------------------------------------------------
// Micro-kernel: C[mr x nr] (+)= A-sliver^T B-panel over kc steps, where A(r, k) = a[k*as + r]
// (a packed panel, or A with contiguous columns) or, with AROWS, A(r, k) = a[r*as + k] (A's
// rows read in place), and B(k, j) = b[k*bs + j]. In the first form rows r >= mr of the sliver
// are read but their sums discarded, so they must be readable (zero padding or slack); AROWS
// re-reads row 0 instead. PART (nr < NV*W) masks the B loads and C stores.

template <class T, int NV, int EK, bool PART>
LH_INLINE void storeTile(Vec<T> (&acc)[Cfg<T>::MR][NV], T* c, int64_t ldc, int mr, const int (&cnt)[NV], bool beta,
                         const Epilogue<T>& e, int64_t i0, int64_t j0) {
  constexpr int MR = Cfg<T>::MR;
  constexpr int W = S<T>::W;
#pragma GCC unroll 16
  for (int r = 0; r < MR; r++) {
    if (r >= mr) break;
    T* cr = c + r * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      if (PART && cnt[v] == 0) continue;
      Vec<T> x = acc[r][v];
      if (beta) x += PART ? loadN(cr + v * W, cnt[v]) : vload(cr + v * W);
      x = epiVec<T, EK, PART>(x, e, i0 + r, j0 + v * W, cnt[v]);
      if (PART) {
        storeN(cr + v * W, x, cnt[v]);
      } else {
        vstore(cr + v * W, x);
      }
    }
  }
}

template <class T, int NV, bool PART, bool AROWS = false>
__attribute__((noinline)) void kernel(int kc, const T* a, int64_t as, const T* b, int64_t bs, T* c, int64_t ldc, int mr,
                                      int nr, bool beta, int ek, const Epilogue<T>& e, int64_t i0, int64_t j0) {
  constexpr int MR = Cfg<T>::MR;
  constexpr int W = S<T>::W;
  typedef Vec<T> V;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; r++) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) acc[r][v] = V{};
  }
  int cnt[NV];
  for (int v = 0; v < NV; v++) cnt[v] = PART ? lanes(nr, v, W) : W;
  const T* rowp[AROWS ? MR : 1];
  if (AROWS) {
    for (int r = 0; r < MR; r++) rowp[r] = a + (r < mr ? r : 0) * as;
  }
  for (int k = 0; k < kc; k++) {
    V bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) bv[v] = PART ? loadN(b + v * W, cnt[v]) : vload(b + v * W);
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
      const T av = AROWS ? rowp[r][k] : a[r];
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) acc[r][v] += av * bv[v];
    }
    if (!AROWS) a += as;
    b += bs;
  }
  switch (ek) {
    case EPI_NONE: storeTile<T, NV, EPI_NONE, PART>(acc, c, ldc, mr, cnt, beta, e, i0, j0); break;
    case EPI_BIAS_ACT: storeTile<T, NV, EPI_BIAS_ACT, PART>(acc, c, ldc, mr, cnt, beta, e, i0, j0); break;
    case EPI_DRELU: storeTile<T, NV, EPI_DRELU, PART>(acc, c, ldc, mr, cnt, beta, e, i0, j0); break;
    case EPI_DTANH: storeTile<T, NV, EPI_DTANH, PART>(acc, c, ldc, mr, cnt, beta, e, i0, j0); break;
    default: storeTile<T, NV, EPI_DMUL, PART>(acc, c, ldc, mr, cnt, beta, e, i0, j0); break;
  }
}

// ---------------------------------------------------------------------------------------------
// Packing.

/** Rows [i0, i0+mc) x cols [k0, k0+kc) of A into MR-tall panels [k][MR], zero-padded rows. */
template <class T>
void packA(const T* A, int64_t rsa, int64_t csa, int64_t i0, int mc, int64_t k0, int kc, T* dst) {
  constexpr int MR = Cfg<T>::MR;
  for (int ir = 0; ir < mc; ir += MR) {
    T* panel = dst + static_cast<int64_t>(ir) * kc;
    const int rows = mc - ir < MR ? mc - ir : MR;
    if (csa == 1) {
      // Rows contiguous: read each row once, write with stride MR.
      for (int r = 0; r < rows; r++) {
        const T* src = A + (i0 + ir + r) * rsa + k0;
        T* d = panel + r;
        for (int k = 0; k < kc; k++) d[static_cast<int64_t>(k) * MR] = src[k];
      }
    } else {
      for (int k = 0; k < kc; k++) {
        const T* src = A + (i0 + ir) * rsa + (k0 + k) * csa;
        T* d = panel + static_cast<int64_t>(k) * MR;
        for (int r = 0; r < rows; r++) d[r] = src[r * rsa];
      }
    }
    for (int r = rows; r < MR; r++) {
      for (int k = 0; k < kc; k++) panel[static_cast<int64_t>(k) * MR + r] = T(0);
    }
  }
}

/** Rows [k0, k0+kc) x cols [j0, j0+nc) of B into NR-wide panels [k][NR], zero-padded columns. */
template <class T>
void packB(const T* B, int64_t rsb, int64_t csb, int64_t k0, int kc, int64_t j0, int nc, T* dst) {
  constexpr int NR = Cfg<T>::NR;
  for (int jr = 0; jr < nc; jr += NR) {
    T* panel = dst + static_cast<int64_t>(jr) * kc;
    const int cols = nc - jr < NR ? nc - jr : NR;
    if (rsb == 1) {
      // Columns contiguous (W read as W^T): read each column once.
      for (int c = 0; c < cols; c++) {
        const T* src = B + k0 + (j0 + jr + c) * csb;
        T* d = panel + c;
        for (int k = 0; k < kc; k++) d[static_cast<int64_t>(k) * NR] = src[k];
      }
    } else {
      for (int k = 0; k < kc; k++) {
        const T* src = B + (k0 + k) * rsb + (j0 + jr) * csb;
        T* d = panel + static_cast<int64_t>(k) * NR;
        for (int c = 0; c < cols; c++) d[c] = src[c * csb];
      }
    }
    for (int k = 0; k < kc; k++) {
      for (int c = cols; c < NR; c++) panel[static_cast<int64_t>(k) * NR + c] = T(0);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Degenerate shapes (an output width of 1, a single output row, rank-1 updates), where a
// register tile would waste most of its lanes: direct vector loops, then the epilogue per row.

/** N == 1, A rows contiguous, b contiguous: C[i*ldc] (+)= dot(A[i, :], b). */
template <class T>
void dotRows(int M, int K, const T* A, int64_t rsa, const T* b, T* C, int64_t ldc, bool beta, const Epilogue<T>& e) {
  constexpr int W = S<T>::W;
  typedef Vec<T> V;
  for (int i = 0; i < M; i++) {
    const T* a = A + i * rsa;
    V s0 = V{}, s1 = V{}, s2 = V{}, s3 = V{};
    int k = 0;
    for (; k + 4 * W <= K; k += 4 * W) {
      s0 += vload(a + k) * vload(b + k);
      s1 += vload(a + k + W) * vload(b + k + W);
      s2 += vload(a + k + 2 * W) * vload(b + k + 2 * W);
      s3 += vload(a + k + 3 * W) * vload(b + k + 3 * W);
    }
    for (; k < K; k += W) {
      const int cnt = K - k < W ? K - k : W;
      s0 += loadN(a + k, cnt) * loadN(b + k, cnt);
    }
    const T sum = hsum<T>((s0 + s1) + (s2 + s3));
    T* c = C + i * ldc;
    *c = beta ? *c + sum : sum;
  }
  if (e.kind == EPI_NONE) return;
  if (e.kind == EPI_BIAS_ACT && ldc == 1) {
    // The usual case, an output layer of width 1: one pass over the contiguous column.
    const T b = e.bias != nullptr ? e.bias[0] : T(0);
    for (int i = 0; i < M; i += W) {
      const int cnt = M - i < W ? M - i : W;
      storeN(C + i, actV<T>(loadN(C + i, cnt) + b, e.act), cnt);
    }
    return;
  }
  for (int i = 0; i < M; i++) epiRow(C + i * ldc, e, i, 0, 1);
}

/** M == 1, B rows contiguous: C[0, :] (+)= sum_k A(0, k) B[k, :]. */
template <class T>
void axpyRows(int N, int K, const T* A, int64_t csa, const T* B, int64_t rsb, T* C, bool beta, const Epilogue<T>& e) {
  constexpr int W = S<T>::W;
  typedef Vec<T> V;
  // Blocks of 4 vectors of C stay in registers while k runs.
  for (int j = 0; j < N; j += 4 * W) {
    V c[4];
    int cnt[4];
    for (int v = 0; v < 4; v++) {
      cnt[v] = lanes(N - j, v, W);
      c[v] = beta && cnt[v] > 0 ? loadN(C + j + v * W, cnt[v]) : V{};
    }
    if (cnt[3] == W) {
      for (int k = 0; k < K; k++) {
        const T a = A[k * csa];
        const T* b = B + k * rsb + j;
        c[0] += a * vload(b);
        c[1] += a * vload(b + W);
        c[2] += a * vload(b + 2 * W);
        c[3] += a * vload(b + 3 * W);
      }
    } else {
      for (int k = 0; k < K; k++) {
        const T a = A[k * csa];
        const T* b = B + k * rsb + j;
        for (int v = 0; v < 4; v++) {
          if (cnt[v] > 0) c[v] += a * loadN(b + v * W, cnt[v]);
        }
      }
    }
    for (int v = 0; v < 4; v++) {
      if (cnt[v] > 0) storeN(C + j + v * W, c[v], cnt[v]);
    }
  }
  epiRow(C, e, 0, 0, N);
}

/** K == 1, B row contiguous: C[i, :] (+)= A(i, 0) B[0, :], with the epilogue EK. */
template <class T, int EK>
void outerRows(int M, int N, const T* A, int64_t rsa, const T* B, T* C, int64_t ldc, bool beta, const Epilogue<T>& e) {
  constexpr int W = S<T>::W;
  for (int i = 0; i < M; i++) {
    const T a = A[i * rsa];
    T* c = C + i * ldc;
    for (int j = 0; j < N; j += W) {
      const int cnt = N - j < W ? N - j : W;
      Vec<T> p = a * loadN(B + j, cnt);
      if (beta) p += loadN(c + j, cnt);
      storeN(c + j, epiVec<T, EK, true>(p, e, i, j, cnt), cnt);
    }
  }
}

template <class T>
void outer(int M, int N, const T* A, int64_t rsa, const T* B, T* C, int64_t ldc, bool beta, const Epilogue<T>& e) {
  switch (e.kind) {
    case EPI_NONE: outerRows<T, EPI_NONE>(M, N, A, rsa, B, C, ldc, beta, e); break;
    case EPI_BIAS_ACT: outerRows<T, EPI_BIAS_ACT>(M, N, A, rsa, B, C, ldc, beta, e); break;
    case EPI_DRELU: outerRows<T, EPI_DRELU>(M, N, A, rsa, B, C, ldc, beta, e); break;
    case EPI_DTANH: outerRows<T, EPI_DTANH>(M, N, A, rsa, B, C, ldc, beta, e); break;
    default: outerRows<T, EPI_DMUL>(M, N, A, rsa, B, C, ldc, beta, e); break;
  }
}

// ---------------------------------------------------------------------------------------------
// C[M, N] (+)= A[M, K] B[K, N] (then the epilogue), A(i, k) = A[i*rsa + k*csa],
// B(k, j) = B[k*rsb + j*csb], C row-major with leading dimension ldc. aSlack: when A is read in
// place (rsa == 1), MAX_MR elements past its last element are readable.

template <class T>
void gemm(int M, int N, int K, const T* A, int64_t rsa, int64_t csa, const T* B, int64_t rsb, int64_t csb, T* C,
          int64_t ldc, bool beta, const Epilogue<T>& e, T* workA, T* workB, bool aSlack) {
  constexpr int MR = Cfg<T>::MR;
  constexpr int NV = Cfg<T>::NV;
  constexpr int W = S<T>::W;
  constexpr int NR = Cfg<T>::NR;
  constexpr int KC = Cfg<T>::KC;
  constexpr int MC = Cfg<T>::MC;
  constexpr int NC = Cfg<T>::NC;
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int i = 0; i < M; i++) {
      T* c = C + i * ldc;
      if (!beta) {
        for (int j = 0; j < N; j++) c[j] = T(0);
      }
      epiRow(c, e, i, 0, N);
    }
    return;
  }
  if (N == 1 && csa == 1 && M > 1) {
    const T* b = B;
    if (rsb != 1) {
      for (int k = 0; k < K; k++) workB[k] = B[k * rsb];
      b = workB;
    }
    dotRows(M, K, A, rsa, b, C, ldc, beta, e);
    return;
  }
  if (M == 1 && csb == 1) {
    axpyRows(N, K, A, csa, B, rsb, C, beta, e);
    return;
  }
  if (K == 1 && csb == 1) {
    outer(M, N, A, rsa, B, C, ldc, beta, e);
    return;
  }
  // A is read in place when its columns are contiguous (dW = dZ^T H). B must be packed when its
  // rows are not contiguous; otherwise packing pays only for wide rows over many rows of C: read
  // in place, rows 1 KB or more apart collide in the L1 sets (measured: +10% on 512-wide
  // layers), while narrow rows stream well and over 64 rows or fewer the copy costs more than
  // it saves.
  // Row-major A (H in Z = H W^T, dZ in dH = dZ W) is read in place as well, through MR row
  // pointers: measured 4-8% faster than packing it on 256- and 512-wide layers (the packing pass
  // costs more than the strided reads), and far faster on narrow layers.
  const bool aDirect = rsa == 1;
  const bool aRows = !aDirect && csa == 1;
  const bool bPacked = csb != 1 || (M >= 128 && rsb * static_cast<int64_t>(sizeof(T)) >= 1024);
  T* edgeA = workA + static_cast<int64_t>(MAX_MC) * MAX_KC;
  for (int jc = 0; jc < N; jc += NC) {
    const int nc = static_cast<int>(imin(NC, N - jc));
    for (int pc = 0; pc < K; pc += KC) {
      const int kc = static_cast<int>(imin(KC, K - pc));
      const bool bt = beta || pc > 0;
      const int ek = pc + kc >= K ? e.kind : EPI_NONE;
      if (bPacked) packB(B, rsb, csb, pc, kc, jc, nc, workB);
      for (int ic = 0; ic < M; ic += MC) {
        const int mc = static_cast<int>(imin(MC, M - ic));
        if (!aDirect && !aRows) packA(A, rsa, csa, ic, mc, pc, kc, workA);
        for (int jr = 0; jr < nc; jr += NR) {
          const int nr = nc - jr < NR ? nc - jr : NR;
          const T* bp = bPacked ? workB + static_cast<int64_t>(jr) * kc : B + pc * rsb + (jc + jr);
          const int64_t bs = bPacked ? NR : rsb;
          for (int ir = 0; ir < mc; ir += MR) {
            const int mr = mc - ir < MR ? mc - ir : MR;
            T* cp = C + (ic + ir) * ldc + jc + jr;
            if (aRows) {
              const T* ap = A + (ic + ir) * rsa + pc;
              if (nr == NR) {
                kernel<T, NV, false, true>(kc, ap, rsa, bp, bs, cp, ldc, mr, nr, bt, ek, e, ic + ir, jc + jr);
              } else if (nr <= W) {
                kernel<T, 1, true, true>(kc, ap, rsa, bp, bs, cp, ldc, mr, nr, bt, ek, e, ic + ir, jc + jr);
              } else {
                kernel<T, NV, true, true>(kc, ap, rsa, bp, bs, cp, ldc, mr, nr, bt, ek, e, ic + ir, jc + jr);
              }
              continue;
            }
            const T* ap;
            int64_t as;
            if (!aDirect) {
              ap = workA + static_cast<int64_t>(ir) * kc;
              as = MR;
            } else if (mr == MR || aSlack) {
              ap = A + (ic + ir) + pc * csa;
              as = csa;
            } else {
              packA(A, rsa, csa, ic + ir, mr, pc, kc, edgeA);
              ap = edgeA;
              as = MR;
            }
            // A last panel at most one vector wide runs a one-vector tile: half the work.
            if (nr == NR) {
              kernel<T, NV, false>(kc, ap, as, bp, bs, cp, ldc, mr, nr, bt, ek, e, ic + ir, jc + jr);
            } else if (nr == W) {
              kernel<T, 1, false>(kc, ap, as, bp, bs, cp, ldc, mr, nr, bt, ek, e, ic + ir, jc + jr);
            } else if (nr < W) {
              kernel<T, 1, true>(kc, ap, as, bp, bs, cp, ldc, mr, nr, bt, ek, e, ic + ir, jc + jr);
            } else {
              kernel<T, NV, true>(kc, ap, as, bp, bs, cp, ldc, mr, nr, bt, ek, e, ic + ir, jc + jr);
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Elementwise parts of the network.

/** In place on z [m, w] (bias already added): z = act(z), deriv = act'(z) when given, then the
 * optional LayerNorm per row (rstd receives 1/std). */
template <class T>
void hiddenFwd(T* z, int m, int w, int act, T* deriv, int ln, T* rstd) {
  constexpr int W = S<T>::W;
  typedef Vec<T> V;
  const int64_t len = static_cast<int64_t>(m) * w;
  if (act != ACT_IDENTITY) {
    for (int64_t i = 0; i < len; i += W) {
      const int cnt = static_cast<int>(imin(W, len - i));
      const V x = loadN(z + i, cnt);
      V y, d;
      if (act == ACT_RELU) {
        y = x > T(0) ? x : V{};
        d = x > T(0) ? V{} + T(1) : V{};
      } else if (act == ACT_TANH) {
        y = tanhV(x);
        d = T(1) - y * y;
      } else {
        const V x2 = x * x;
        const V t = tanhV(T(GELU_C) * (x + T(GELU_A) * (x2 * x)));
        const V onePlusT = T(1) + t;
        const V hx = T(0.5) * x;
        y = hx * onePlusT;
        d = T(0.5) * onePlusT + hx * ((T(1) - t * t) * (T(GELU_C) * (T(1) + T(3 * GELU_A) * x2)));
      }
      storeN(z + i, y, cnt);
      if (deriv != nullptr) storeN(deriv + i, d, cnt);
    }
  } else if (deriv != nullptr) {
    for (int64_t i = 0; i < len; i++) deriv[i] = T(1);
  }
  if (!ln) return;
  const T invW = T(1) / T(w);
  for (int i = 0; i < m; i++) {
    T* row = z + static_cast<int64_t>(i) * w;
    V acc = V{};
    for (int j = 0; j < w; j += W) acc += loadN(row + j, w - j < W ? w - j : W);
    const T mu = hsum<T>(acc) * invW;
    acc = V{};
    for (int j = 0; j < w; j += W) {
      const int cnt = w - j < W ? w - j : W;
      const V c = keepLanes<T>(loadN(row + j, cnt) - mu, cnt);
      acc += c * c;
    }
    const T r = T(1) / sqrtT(hsum<T>(acc) * invW + T(LN_EPS));
    rstd[i] = r;
    for (int j = 0; j < w; j += W) {
      const int cnt = w - j < W ? w - j : W;
      storeN(row + j, (loadN(row + j, cnt) - mu) * r, cnt);
    }
  }
}

/** In place: dh (gradient w.r.t. a hidden layer's output h) -> gradient w.r.t. its
 * pre-activation, through LayerNorm (h is the normalised output) and the stored act'. */
template <class T>
void hiddenBwd(T* dh, const T* h, const T* deriv, const T* rstd, int m, int w, int ln, int act) {
  constexpr int W = S<T>::W;
  typedef Vec<T> V;
  if (ln) {
    const T invW = T(1) / T(w);
    for (int i = 0; i < m; i++) {
      T* drow = dh + static_cast<int64_t>(i) * w;
      const T* hrow = h + static_cast<int64_t>(i) * w;
      V a1 = V{}, a2 = V{};
      for (int j = 0; j < w; j += W) {
        const int cnt = w - j < W ? w - j : W;
        const V g = loadN(drow + j, cnt);
        a1 += g;
        a2 += g * loadN(hrow + j, cnt);
      }
      const T s1 = hsum<T>(a1) * invW;
      const T s2 = hsum<T>(a2) * invW;
      const T r = rstd[i];
      for (int j = 0; j < w; j += W) {
        const int cnt = w - j < W ? w - j : W;
        storeN(drow + j, r * ((loadN(drow + j, cnt) - s1) - loadN(hrow + j, cnt) * s2), cnt);
      }
    }
  }
  if (act != ACT_IDENTITY) {
    const int64_t len = static_cast<int64_t>(m) * w;
    for (int64_t i = 0; i < len; i += W) {
      const int cnt = static_cast<int>(imin(W, len - i));
      storeN(dh + i, loadN(dh + i, cnt) * loadN(deriv + i, cnt), cnt);
    }
  }
}

/** dst[j] (+)= sum_i dz[i, j] (the bias gradient). */
template <class T>
void colsum(const T* dz, int m, int w, T* dst, bool accumulate) {
  constexpr int W = S<T>::W;
  typedef Vec<T> V;
  for (int j = 0; j < w; j += 4 * W) {
    V c[4];
    int cnt[4];
    for (int v = 0; v < 4; v++) {
      cnt[v] = lanes(w - j, v, W);
      c[v] = accumulate && cnt[v] > 0 ? loadN(dst + j + v * W, cnt[v]) : V{};
    }
    for (int i = 0; i < m; i++) {
      const T* row = dz + static_cast<int64_t>(i) * w + j;
      for (int v = 0; v < 4; v++) {
        if (cnt[v] > 0) c[v] += loadN(row + v * W, cnt[v]);
      }
    }
    for (int v = 0; v < 4; v++) {
      if (cnt[v] > 0) storeN(dst + j + v * W, c[v], cnt[v]);
    }
  }
}

/**
 * The loss head over a chunk of m rows: out and y are [m, q] (y holds the rows' targets, already
 * gathered for a minibatch). Returns the sum of the loss terms and, when dOut is given, writes
 * dL/dout = (d term / d out) / cnt, cnt being the number of terms in the whole batch. Sums in
 * double in both precisions. A new loss kind is one more case of this switch (a loss over each
 * row's q outputs, such as softmax cross-entropy, loops over rows instead of terms).
 */
template <class T>
double lossChunk(const Net& net, const T* out, const T* y, int m, int q, T* dOut, double cnt) {
  const int64_t len = static_cast<int64_t>(m) * q;
  switch (net.lossKind) {
    case LOSS_CROSS_ENTROPY: {
      // One term per row over its q logits (q = 1: the binary logit); y holds class probabilities.
      double total = 0;
      for (int i = 0; i < m; i++) {
        const T* z = out + static_cast<int64_t>(i) * q;
        const T* t = y + static_cast<int64_t>(i) * q;
        T* g = dOut != nullptr ? dOut + static_cast<int64_t>(i) * q : nullptr;
        if (q == 1) {
          const double zz = static_cast<double>(z[0]);
          const double yy = static_cast<double>(t[0]);
          total += (zz > 0 ? zz : 0) + __builtin_log1p(__builtin_exp(-__builtin_fabs(zz))) - yy * zz;
          if (g != nullptr) g[0] = static_cast<T>((1 / (1 + __builtin_exp(-zz)) - yy) / cnt);
          continue;
        }
        double mx = -__builtin_inf();
        for (int j = 0; j < q; j++) mx = static_cast<double>(z[j]) > mx ? static_cast<double>(z[j]) : mx;
        double se = 0;
        for (int j = 0; j < q; j++) se += __builtin_exp(static_cast<double>(z[j]) - mx);
        const double lse = mx + __builtin_log(se);
        double ys = 0;
        for (int j = 0; j < q; j++) {
          ys += static_cast<double>(t[j]);
          total -= static_cast<double>(t[j]) * static_cast<double>(z[j]);
        }
        total += ys * lse;
        if (g != nullptr) {
          for (int j = 0; j < q; j++) {
            g[j] = static_cast<T>((ys * __builtin_exp(static_cast<double>(z[j]) - lse) - static_cast<double>(t[j])) / cnt);
          }
        }
      }
      return total;
    }
    case LOSS_STUDENT_T: {
      const double nu = net.nu;
      const double s2 = nu * net.sigma * net.sigma;
      double total = 0;
      for (int64_t j = 0; j < len; j++) {
        const double r = static_cast<double>(out[j]) - static_cast<double>(y[j]);
        total += 0.5 * (nu + 1) * __builtin_log1p((r * r) / s2);
        if (dOut != nullptr) dOut[j] = static_cast<T>(((nu + 1) * r) / (s2 + r * r) / cnt);
      }
      return total;
    }
    default: {
      // Squared error, in double vectors whatever T is.
      typedef Vec<double> VD;
      constexpr int WD = S<double>::W;
      VD acc = VD{};
      int64_t j = 0;
      for (; j + WD <= len; j += WD) {
        VD o, t;
        for (int l = 0; l < WD; l++) {
          o[l] = static_cast<double>(out[j + l]);
          t[l] = static_cast<double>(y[j + l]);
        }
        const VD r = o - t;
        acc += r * r;
        if (dOut != nullptr) {
          const VD g = (2.0 * r) / cnt;
          for (int l = 0; l < WD; l++) dOut[j + l] = static_cast<T>(g[l]);
        }
      }
      double total = hsum<double>(acc);
      for (; j < len; j++) {
        const double r = static_cast<double>(out[j]) - static_cast<double>(y[j]);
        total += r * r;
        if (dOut != nullptr) dOut[j] = static_cast<T>((2 * r) / cnt);
      }
      return total;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The network: forward, loss and backward over row chunks.

template <class T>
struct Model {
  Net& net;
  const T* P;
  T* workA;
  T* workB;

  T* hidden(int l) const { return static_cast<T*>(net.hs[l]); }
  T* deriv(int l) const { return static_cast<T*>(net.deriv[l]); }
  T* rstdOf(int l) const { return static_cast<T*>(net.rstd[l]); }

  // With LayerNorm or gelu the backward pass needs the stored act'(z); relu, tanh and identity
  // derive it from the layer's output.
  bool keepsDeriv() const { return net.layerNorm || net.act == ACT_GELU; }

  /** Runs the layers on the m rows at h0; with needDeriv keeps what the backward pass needs. */
  void forward(const T* h0, int m, bool needDeriv) {
    const int L = net.nLayers;
    const T* hin = h0;
    for (int l = 0; l < L; l++) {
      const Layer& ly = net.layers[l];
      const bool isHidden = l + 1 < L;
      T* z = isHidden ? hidden(l) : static_cast<T*>(net.out);
      const bool fused = !isHidden || !keepsDeriv();
      Epilogue<T> e;
      e.bias = ly.bOff >= 0 ? P + ly.bOff : nullptr;
      e.act = isHidden && fused ? net.act : ACT_IDENTITY;
      e.kind = e.bias != nullptr || e.act != ACT_IDENTITY ? EPI_BIAS_ACT : EPI_NONE;
      // Z = H W^T: B(k, j) = W[j, k].
      gemm<T>(m, ly.fanOut, ly.fanIn, hin, ly.fanIn, 1, P + ly.wOff, 1, ly.fanIn, z, ly.fanOut, false, e, workA, workB,
              false);
      if (!fused) hiddenFwd<T>(z, m, ly.fanOut, net.act, needDeriv ? deriv(l) : nullptr, net.layerNorm, rstdOf(l));
      hin = z;
    }
  }

  /** Backward pass of one chunk from dz = dL/dout; dW and db go to G (accumulate: add). */
  void backward(const T* h0, int m, T* G, bool accumulate) {
    T* dz = static_cast<T*>(net.dA);
    T* dh = static_cast<T*>(net.dB);
    for (int l = net.nLayers - 1; l >= 0; l--) {
      const Layer& ly = net.layers[l];
      const T* hin = l == 0 ? h0 : hidden(l - 1);
      // dW = dZ^T H: A(o, i) = dZ[i, o] is read in place (its columns are contiguous).
      gemm<T>(ly.fanOut, ly.fanIn, m, dz, 1, ly.fanOut, hin, ly.fanIn, 1, G + ly.wOff, ly.fanIn, accumulate,
              Epilogue<T>(), workA, workB, true);
      if (ly.bOff >= 0) colsum<T>(dz, m, ly.fanOut, G + ly.bOff, accumulate);
      if (l == 0) break;
      // dH = dZ W, then back through the activation (and LayerNorm) of the layer below.
      Epilogue<T> e;
      if (!keepsDeriv()) {
        e.aux = hin;
        e.ldaux = ly.fanIn;
        e.kind = net.act == ACT_RELU ? EPI_DRELU : net.act == ACT_TANH ? EPI_DTANH : EPI_NONE;
      } else if (!net.layerNorm) {
        e.aux = deriv(l - 1);
        e.ldaux = ly.fanIn;
        e.kind = EPI_DMUL;
      }
      gemm<T>(m, ly.fanIn, ly.fanOut, dz, ly.fanOut, 1, P + ly.wOff, ly.fanIn, 1, dh, ly.fanIn, false, e, workA, workB,
              false);
      if (net.layerNorm) hiddenBwd<T>(dh, hin, deriv(l - 1), rstdOf(l - 1), m, ly.fanIn, 1, net.act);
      T* t = dz;
      dz = dh;
      dh = t;
    }
  }
};

template <class T>
double lossGrad(Net& net, const double* theta, double* grad, const int32_t* rows, int nRows) {
  const int64_t dim = net.dim;
  const T* P;
  if (sizeof(T) == sizeof(double)) {
    P = reinterpret_cast<const T*>(theta);
  } else {
    T* p = static_cast<T*>(net.P);
    for (int64_t i = 0; i < dim; i++) p[i] = static_cast<T>(theta[i]);
    P = p;
  }
  T* G = sizeof(T) == sizeof(double) ? reinterpret_cast<T*>(grad) : static_cast<T*>(net.G);
  Model<T> model{net, P, static_cast<T*>(net.packA), static_cast<T*>(net.packB)};
  const int total = rows == nullptr ? net.n : nRows;
  const int d = net.inDim;
  const int q = net.outDim;
  // Terms the batch's loss is the mean of: every output for the elementwise losses, every row
  // for cross-entropy.
  const double cnt = net.lossKind == LOSS_CROSS_ENTROPY ? static_cast<double>(total) : static_cast<double>(total) * q;
  const T* X = static_cast<const T*>(net.X);
  const T* Y = static_cast<const T*>(net.Y);
  T* out = static_cast<T*>(net.out);
  T* dOut = grad != nullptr ? static_cast<T*>(net.dA) : nullptr;
  double value = 0;
  for (int start = 0; start < total; start += net.cap) {
    const int m = total - start < net.cap ? total - start : net.cap;
    const T* h0;
    if (rows == nullptr) {
      h0 = X + static_cast<int64_t>(start) * d;
    } else {
      T* g = static_cast<T*>(net.h0);
      for (int i = 0; i < m; i++) {
        __builtin_memcpy(g + static_cast<int64_t>(i) * d, X + static_cast<int64_t>(rows[start + i]) * d, sizeof(T) * d);
      }
      h0 = g;
    }
    model.forward(h0, m, grad != nullptr);
    const T* y = Y + static_cast<int64_t>(start) * q;
    if (rows != nullptr) {
      // The minibatch's targets side by side; dB is free until the backward pass.
      T* g = static_cast<T*>(net.dB);
      for (int i = 0; i < m; i++) {
        __builtin_memcpy(g + static_cast<int64_t>(i) * q, Y + static_cast<int64_t>(rows[start + i]) * q, sizeof(T) * q);
      }
      y = g;
    }
    value += lossChunk<T>(net, out, y, m, q, dOut, cnt) / cnt;
    if (grad != nullptr) model.backward(h0, m, G, start > 0);
  }
  if (grad != nullptr && sizeof(T) != sizeof(double)) {
    for (int64_t i = 0; i < dim; i++) grad[i] = static_cast<double>(G[i]);
  }
  return value;
}

template <class T>
void predict(Net& net, const double* theta, const double* X, int rows, double* result) {
  const T* P;
  if (sizeof(T) == sizeof(double)) {
    P = reinterpret_cast<const T*>(theta);
  } else {
    T* p = static_cast<T*>(net.P);
    for (int64_t i = 0; i < net.dim; i++) p[i] = static_cast<T>(theta[i]);
    P = p;
  }
  Model<T> model{net, P, static_cast<T*>(net.packA), static_cast<T*>(net.packB)};
  const int d = net.inDim;
  const int q = net.outDim;
  T* h0 = static_cast<T*>(net.h0);
  const T* out = static_cast<const T*>(net.out);
  for (int start = 0; start < rows; start += net.cap) {
    const int m = rows - start < net.cap ? rows - start : net.cap;
    const double* src = X + static_cast<int64_t>(start) * d;
    for (int64_t i = 0; i < static_cast<int64_t>(m) * d; i++) h0[i] = static_cast<T>(src[i]);
    model.forward(h0, m, false);
    double* dst = result + static_cast<int64_t>(start) * q;
    for (int64_t i = 0; i < static_cast<int64_t>(m) * q; i++) dst[i] = static_cast<double>(out[i]);
  }
}

double lossGradEntry(Net* net, const double* theta, double* grad, const int32_t* rows, int nRows) {
  return net->single ? lossGrad<float>(*net, theta, grad, rows, nRows) : lossGrad<double>(*net, theta, grad, rows, nRows);
}

void predictEntry(Net* net, const double* theta, const double* X, int rows, double* out) {
  if (net->single) {
    predict<float>(*net, theta, X, rows, out);
  } else {
    predict<double>(*net, theta, X, rows, out);
  }
}

void gemmEntry(int single, int M, int N, int K, const void* A, int64_t rsa, int64_t csa, const void* B, int64_t rsb,
               int64_t csb, void* C, int64_t ldc, int accumulate, void* packA, void* packB) {
  if (single) {
    gemm<float>(M, N, K, static_cast<const float*>(A), rsa, csa, static_cast<const float*>(B), rsb, csb,
                static_cast<float*>(C), ldc, accumulate != 0, Epilogue<float>(), static_cast<float*>(packA),
                static_cast<float*>(packB), false);
  } else {
    gemm<double>(M, N, K, static_cast<const double*>(A), rsa, csa, static_cast<const double*>(B), rsb, csb,
                 static_cast<double*>(C), ldc, accumulate != 0, Epilogue<double>(), static_cast<double*>(packA),
                 static_cast<double*>(packB), false);
  }
}

// Twelve independent multiply-add chains: more than the FMA latency times the number of FMA
// units of current cores, so the loop runs at the units' throughput.
template <class T>
double fmaPeak(int64_t iters) {
  typedef Vec<T> V;
  const V b = vsplat<T>(T(0.999999));
  const V c = vsplat<T>(T(1e-7));
  V a[12];
  for (int i = 0; i < 12; i++) a[i] = vsplat<T>(T(i));
  for (int64_t k = 0; k < iters; k++) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) a[i] = a[i] * b + c;
  }
  V s = V{};
  for (int i = 0; i < 12; i++) s += a[i];
  // The sum is consumed, so the chains cannot be optimised away.
  const T t = hsum<T>(s);
  __asm__ volatile("" : : "g"(t));
  return static_cast<double>(iters) * 12 * S<T>::W * 2;
}

double fmaPeakEntry(int single, int64_t iters) { return single ? fmaPeak<float>(iters) : fmaPeak<double>(iters); }

}  // namespace
}  // namespace LH_NS

extern const Kernels LH_TABLE = {LH_NAME, LH_NS::lossGradEntry, LH_NS::predictEntry, LH_NS::gemmEntry,
                                 LH_NS::fmaPeakEntry};

}  // namespace lh
