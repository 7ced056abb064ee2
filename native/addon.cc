// N-API binding of the native engine. The TypeScript side (src/engine/native-model.ts) validates
// every input; this layer checks again what would otherwise corrupt memory (array kinds and
// lengths), owns the model's buffers, and picks the kernel build for the CPU it runs on.
//
// Exports:
//   kernels: string             the best kernel build this CPU runs ('avx512' | 'avx2' | 'sse2')
//   supported: string[]         every build this CPU runs, best first
//   create(config) -> handle    a model (see createNet for the config keys)
//   lossGrad(handle, theta, grad | null, rows | null) -> number
//   predict(handle, theta, X, rows, out)
//   dispose(handle)
//   gemm(kernels, single, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate)   (tests)
//   fmaPeak(kernels, single, iters) -> floating-point operations done     (benchmark)
#include <node_api.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "engine.h"

namespace {

using lh::Kernels;
using lh::Net;

const Kernels* kernelsByName(const char* name) {
#if defined(__x86_64__)
  if (std::strcmp(name, "avx512") == 0) return &lh::kernelsAvx512;
  if (std::strcmp(name, "avx2") == 0) return &lh::kernelsAvx2;
#endif
  if (std::strcmp(name, lh::kernelsBase.name) == 0) return &lh::kernelsBase;
  return nullptr;
}

bool cpuRuns(const Kernels* k) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (k == &lh::kernelsAvx512) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("fma");
  }
  if (k == &lh::kernelsAvx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return k == &lh::kernelsBase;
}

// Best first.
const Kernels* const ALL[] = {
#if defined(__x86_64__)
    &lh::kernelsAvx512,
    &lh::kernelsAvx2,
#endif
    &lh::kernelsBase,
};

struct Handle {
  Net* net;
  const Kernels* kernels;
};

void* allocBuffer(size_t elements, size_t es) {
  size_t bytes = (elements + lh::PAD) * es;
  bytes = (bytes + 63) & ~static_cast<size_t>(63);
  void* p = std::aligned_alloc(64, bytes);
  if (p != nullptr) std::memset(p, 0, bytes);
  return p;
}

void freeNet(Net* net) {
  if (net == nullptr) return;
  const int hidden = net->nLayers - 1;
  for (int l = 0; l < hidden; l++) {
    if (net->hs != nullptr) std::free(net->hs[l]);
    if (net->deriv != nullptr) std::free(net->deriv[l]);
    if (net->rstd != nullptr) std::free(net->rstd[l]);
  }
  std::free(net->hs);
  std::free(net->deriv);
  std::free(net->rstd);
  std::free(net->layers);
  void* bufs[] = {net->X, net->Y, net->P, net->G, net->h0, net->out, net->dA, net->dB, net->packA, net->packB};
  for (void* b : bufs) std::free(b);
  delete net;
}

// ---------------------------------------------------------------------------------------------
// Small N-API helpers: each returns false after throwing a JS error.

bool fail(napi_env env, const char* msg) {
  napi_throw_error(env, nullptr, msg);
  return false;
}

bool getNumber(napi_env env, napi_value obj, const char* key, double* out) {
  napi_value v;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return fail(env, "native engine: bad config object");
  if (napi_get_value_double(env, v, out) != napi_ok) {
    napi_throw_type_error(env, nullptr, "native engine: config number missing");
    return false;
  }
  return true;
}

bool getInt(napi_env env, napi_value obj, const char* key, int* out) {
  double d;
  if (!getNumber(env, obj, key, &d)) return false;
  if (!(d >= 0 && d <= 2147483647.0) || d != static_cast<double>(static_cast<int>(d))) {
    return fail(env, "native engine: config value must be a non-negative 32-bit integer");
  }
  *out = static_cast<int>(d);
  return true;
}

/** Data pointer and length of a typed array of the given kind (null/undefined allowed when optional). */
bool getTyped(napi_env env, napi_value v, napi_typedarray_type want, void** data, size_t* length, bool optional) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (optional && (t == napi_null || t == napi_undefined)) {
    *data = nullptr;
    *length = 0;
    return true;
  }
  bool isTyped = false;
  napi_is_typedarray(env, v, &isTyped);
  if (!isTyped) return fail(env, "native engine: expected a typed array");
  napi_typedarray_type type;
  size_t len;
  void* ptr;
  napi_value buf;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, &len, &ptr, &buf, &off) != napi_ok || type != want) {
    return fail(env, "native engine: typed array of the wrong element type");
  }
  *data = ptr;
  *length = len;
  return true;
}

bool getHandle(napi_env env, napi_value v, Handle** out) {
  void* p = nullptr;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == nullptr) return fail(env, "native engine: bad model handle");
  Handle* h = static_cast<Handle*>(p);
  if (h->net == nullptr) return fail(env, "model has been disposed");
  *out = h;
  return true;
}

void finalizeHandle(napi_env, void* data, void*) {
  Handle* h = static_cast<Handle*>(data);
  freeNet(h->net);
  delete h;
}

// ---------------------------------------------------------------------------------------------

/**
 * create({ kernels, sizes, act, bias, layerNorm, lossKind, nu, sigma, single, n, X, Y }):
 * sizes is a Float64Array of layer widths, X / Y Float64Arrays of n rows.
 */
napi_value Create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value cfg;
  napi_get_cb_info(env, info, &argc, &cfg, nullptr, nullptr);
  if (argc < 1) {
    fail(env, "native engine: create needs a config");
    return nullptr;
  }
  napi_value kv;
  char kname[32] = {0};
  size_t klen = 0;
  napi_get_named_property(env, cfg, "kernels", &kv);
  if (napi_get_value_string_utf8(env, kv, kname, sizeof kname, &klen) != napi_ok) {
    fail(env, "native engine: config.kernels must be a string");
    return nullptr;
  }
  const Kernels* kernels = kernelsByName(kname);
  if (kernels == nullptr || !cpuRuns(kernels)) {
    fail(env, "native engine: this CPU cannot run the requested kernels");
    return nullptr;
  }

  int act, bias, ln, lossKind, single, n;
  double nu, sigma;
  if (!getInt(env, cfg, "act", &act) || !getInt(env, cfg, "bias", &bias) || !getInt(env, cfg, "layerNorm", &ln) ||
      !getInt(env, cfg, "lossKind", &lossKind) || !getInt(env, cfg, "single", &single) || !getInt(env, cfg, "n", &n) ||
      !getNumber(env, cfg, "nu", &nu) || !getNumber(env, cfg, "sigma", &sigma)) {
    return nullptr;
  }
  napi_value sv, xv, yv;
  napi_get_named_property(env, cfg, "sizes", &sv);
  napi_get_named_property(env, cfg, "X", &xv);
  napi_get_named_property(env, cfg, "Y", &yv);
  void *sp, *xp, *yp;
  size_t slen, xlen, ylen;
  if (!getTyped(env, sv, napi_float64_array, &sp, &slen, false) || !getTyped(env, xv, napi_float64_array, &xp, &xlen, false) ||
      !getTyped(env, yv, napi_float64_array, &yp, &ylen, false)) {
    return nullptr;
  }
  const double* sizes = static_cast<const double*>(sp);
  if (slen < 2 || n < 1 || act < 0 || act > 3) {
    fail(env, "native engine: bad network config");
    return nullptr;
  }

  Net* net = new (std::nothrow) Net();
  if (net == nullptr) {
    fail(env, "native engine: out of memory");
    return nullptr;
  }
  std::memset(static_cast<void*>(net), 0, sizeof(Net));
  const int L = static_cast<int>(slen) - 1;
  net->nLayers = L;
  net->act = act;
  net->layerNorm = ln;
  net->lossKind = lossKind;
  net->nu = nu;
  net->sigma = sigma;
  net->single = single;
  net->n = n;
  net->inDim = static_cast<int>(sizes[0]);
  net->outDim = static_cast<int>(sizes[L]);
  net->cap = n < lh::CHUNK ? n : lh::CHUNK;
  net->layers = static_cast<lh::Layer*>(std::calloc(L, sizeof(lh::Layer)));
  net->hs = static_cast<void**>(std::calloc(L, sizeof(void*)));
  net->deriv = static_cast<void**>(std::calloc(L, sizeof(void*)));
  net->rstd = static_cast<void**>(std::calloc(L, sizeof(void*)));
  bool ok = net->layers != nullptr && net->hs != nullptr && net->deriv != nullptr && net->rstd != nullptr;
  int64_t off = 0;
  int maxW = 0;
  for (int l = 0; ok && l <= L; l++) {
    const double s = sizes[l];
    if (!(s >= 1 && s <= 1e8) || s != static_cast<double>(static_cast<int>(s))) ok = false;
    if (ok && static_cast<int>(s) > maxW) maxW = static_cast<int>(s);
  }
  if (!ok || xlen != static_cast<size_t>(n) * net->inDim || ylen != static_cast<size_t>(n) * net->outDim) {
    freeNet(net);
    fail(env, "native engine: sizes, X and Y do not agree");
    return nullptr;
  }
  for (int l = 0; l < L; l++) {
    lh::Layer& ly = net->layers[l];
    ly.fanIn = static_cast<int>(sizes[l]);
    ly.fanOut = static_cast<int>(sizes[l + 1]);
    ly.wOff = off;
    off += static_cast<int64_t>(ly.fanIn) * ly.fanOut;
    ly.bOff = bias ? off : -1;
    if (bias) off += ly.fanOut;
  }
  net->dim = off;
  net->maxWidth = maxW;
  const size_t es = single ? 4 : 8;
  const size_t cap = static_cast<size_t>(net->cap);
  net->X = allocBuffer(static_cast<size_t>(n) * net->inDim, es);
  net->Y = allocBuffer(static_cast<size_t>(n) * net->outDim, es);
  net->h0 = allocBuffer(cap * net->inDim, es);
  net->out = allocBuffer(cap * net->outDim, es);
  net->dA = allocBuffer(cap * maxW, es);
  net->dB = allocBuffer(cap * maxW, es);
  net->packA = allocBuffer(static_cast<size_t>(lh::MAX_MC + lh::MAX_MR) * lh::MAX_KC, es);
  const size_t ncap = static_cast<size_t>(maxW < lh::MAX_NC ? maxW : lh::MAX_NC);
  // A kc-deep slice of B in NR-wide panels, or a gathered column of up to cap rows.
  size_t packB = static_cast<size_t>(lh::MAX_KC) * (ncap + lh::MAX_NR);
  if (packB < cap + static_cast<size_t>(maxW)) packB = cap + static_cast<size_t>(maxW);
  net->packB = allocBuffer(packB, es);
  ok = net->X && net->Y && net->h0 && net->out && net->dA && net->dB && net->packA && net->packB;
  if (single) {
    net->P = allocBuffer(static_cast<size_t>(off), es);
    net->G = allocBuffer(static_cast<size_t>(off), es);
    ok = ok && net->P && net->G;
  }
  const bool keepsDeriv = ln || act == lh::ACT_GELU;
  for (int l = 0; ok && l + 1 < L; l++) {
    const size_t w = static_cast<size_t>(sizes[l + 1]);
    net->hs[l] = allocBuffer(cap * w, es);
    ok = net->hs[l] != nullptr;
    if (ok && keepsDeriv) {
      net->deriv[l] = allocBuffer(cap * w, es);
      ok = net->deriv[l] != nullptr;
    }
    if (ok && ln) {
      net->rstd[l] = allocBuffer(cap, es);
      ok = net->rstd[l] != nullptr;
    }
  }
  if (!ok) {
    freeNet(net);
    fail(env, "native engine: out of memory for the model's buffers");
    return nullptr;
  }
  const double* X = static_cast<const double*>(xp);
  const double* Y = static_cast<const double*>(yp);
  if (single) {
    float* x = static_cast<float*>(net->X);
    float* y = static_cast<float*>(net->Y);
    for (size_t i = 0; i < xlen; i++) x[i] = static_cast<float>(X[i]);
    for (size_t i = 0; i < ylen; i++) y[i] = static_cast<float>(Y[i]);
  } else {
    std::memcpy(net->X, X, xlen * es);
    std::memcpy(net->Y, Y, ylen * es);
  }

  Handle* h = new (std::nothrow) Handle{net, kernels};
  napi_value result;
  if (h == nullptr || napi_create_external(env, h, finalizeHandle, nullptr, &result) != napi_ok) {
    freeNet(net);
    delete h;
    fail(env, "native engine: cannot create the model handle");
    return nullptr;
  }
  return result;
}

napi_value LossGrad(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Handle* h;
  if (argc < 4 || !getHandle(env, argv[0], &h)) return nullptr;
  void *tp, *gp, *rp;
  size_t tlen, glen, rlen;
  if (!getTyped(env, argv[1], napi_float64_array, &tp, &tlen, false) ||
      !getTyped(env, argv[2], napi_float64_array, &gp, &glen, true) ||
      !getTyped(env, argv[3], napi_int32_array, &rp, &rlen, true)) {
    return nullptr;
  }
  Net* net = h->net;
  const size_t dim = static_cast<size_t>(net->dim);
  if (tlen != dim || (gp != nullptr && glen != dim)) {
    fail(env, "native engine: theta / grad length differs from the parameter count");
    return nullptr;
  }
  const int32_t* rows = static_cast<const int32_t*>(rp);
  if (rp != nullptr) {
    if (rlen == 0 || rlen > static_cast<size_t>(net->n)) {
      fail(env, "native engine: bad rows length");
      return nullptr;
    }
    for (size_t i = 0; i < rlen; i++) {
      if (rows[i] < 0 || rows[i] >= net->n) {
        fail(env, "native engine: row index out of range");
        return nullptr;
      }
    }
  }
  const double v = h->kernels->lossGrad(net, static_cast<const double*>(tp), static_cast<double*>(gp), rows,
                                        static_cast<int>(rlen));
  napi_value result;
  napi_create_double(env, v, &result);
  return result;
}

napi_value Predict(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Handle* h;
  if (argc < 5 || !getHandle(env, argv[0], &h)) return nullptr;
  void *tp, *xp, *op;
  size_t tlen, xlen, olen;
  int rows;
  if (!getTyped(env, argv[1], napi_float64_array, &tp, &tlen, false) ||
      !getTyped(env, argv[2], napi_float64_array, &xp, &xlen, false) ||
      !getTyped(env, argv[4], napi_float64_array, &op, &olen, false)) {
    return nullptr;
  }
  if (napi_get_value_int32(env, argv[3], &rows) != napi_ok || rows < 0) {
    fail(env, "native engine: predict rows must be a non-negative integer");
    return nullptr;
  }
  Net* net = h->net;
  if (tlen != static_cast<size_t>(net->dim) || xlen != static_cast<size_t>(rows) * net->inDim ||
      olen != static_cast<size_t>(rows) * net->outDim) {
    fail(env, "native engine: predict array lengths do not match");
    return nullptr;
  }
  h->kernels->predict(net, static_cast<const double*>(tp), static_cast<const double*>(xp), rows, static_cast<double*>(op));
  return nullptr;
}

napi_value Dispose(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr);
  void* p = nullptr;
  if (argc < 1 || napi_get_value_external(env, arg, &p) != napi_ok || p == nullptr) {
    fail(env, "native engine: bad model handle");
    return nullptr;
  }
  Handle* h = static_cast<Handle*>(p);
  freeNet(h->net);
  h->net = nullptr;
  return nullptr;
}

/** gemm(kernels, single, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate); arrays Float64Array or Float32Array. */
napi_value Gemm(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 14) {
    fail(env, "native engine: gemm needs 14 arguments");
    return nullptr;
  }
  char kname[32] = {0};
  size_t klen = 0;
  napi_get_value_string_utf8(env, argv[0], kname, sizeof kname, &klen);
  const Kernels* k = kernelsByName(kname);
  if (k == nullptr || !cpuRuns(k)) {
    fail(env, "native engine: this CPU cannot run the requested kernels");
    return nullptr;
  }
  int ints[3];
  int64_t strides[5];
  bool single = false, acc = false;
  napi_get_value_bool(env, argv[1], &single);
  napi_get_value_bool(env, argv[13], &acc);
  for (int i = 0; i < 3; i++) napi_get_value_int32(env, argv[2 + i], &ints[i]);
  const int sidx[5] = {6, 7, 9, 10, 12};
  for (int i = 0; i < 5; i++) napi_get_value_int64(env, argv[sidx[i]], &strides[i]);
  const napi_typedarray_type type = single ? napi_float32_array : napi_float64_array;
  void *a, *b, *c;
  size_t alen, blen, clen;
  if (!getTyped(env, argv[5], type, &a, &alen, false) || !getTyped(env, argv[8], type, &b, &blen, false) ||
      !getTyped(env, argv[11], type, &c, &clen, false)) {
    return nullptr;
  }
  const int M = ints[0], N = ints[1], K = ints[2];
  const int64_t rsa = strides[0], csa = strides[1], rsb = strides[2], csb = strides[3], ldc = strides[4];
  if (M < 1 || N < 1 || K < 1 || rsa < 1 || csa < 1 || rsb < 1 || csb < 1 || ldc < N) {
    fail(env, "native engine: gemm sizes and strides must be positive (ldc >= N)");
    return nullptr;
  }
  const int64_t aNeed = (M - 1) * rsa + (K - 1) * csa + 1;
  const int64_t bNeed = (K - 1) * rsb + (N - 1) * csb + 1;
  const int64_t cNeed = (M - 1) * ldc + N;
  if (static_cast<int64_t>(alen) < aNeed || static_cast<int64_t>(blen) < bNeed || static_cast<int64_t>(clen) < cNeed) {
    fail(env, "native engine: gemm operand too short for its shape and strides");
    return nullptr;
  }
  const size_t es = single ? 4 : 8;
  void* wa = allocBuffer(static_cast<size_t>(lh::MAX_MC + lh::MAX_MR) * lh::MAX_KC, es);
  const size_t ncap = static_cast<size_t>(N < lh::MAX_NC ? N : lh::MAX_NC);
  void* wb = allocBuffer(static_cast<size_t>(lh::MAX_KC) * (ncap + lh::MAX_NR) + K, es);
  if (wa == nullptr || wb == nullptr) {
    std::free(wa);
    std::free(wb);
    fail(env, "native engine: out of memory");
    return nullptr;
  }
  k->gemm(single ? 1 : 0, M, N, K, a, rsa, csa, b, rsb, csb, c, ldc, acc ? 1 : 0, wa, wb);
  std::free(wa);
  std::free(wb);
  return nullptr;
}

napi_value FmaPeak(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  char kname[32] = {0};
  size_t klen = 0;
  bool single = false;
  int64_t iters = 0;
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], kname, sizeof kname, &klen) != napi_ok ||
      napi_get_value_bool(env, argv[1], &single) != napi_ok || napi_get_value_int64(env, argv[2], &iters) != napi_ok ||
      iters < 0) {
    fail(env, "native engine: fmaPeak(kernels, single, iters)");
    return nullptr;
  }
  const Kernels* k = kernelsByName(kname);
  if (k == nullptr || !cpuRuns(k)) {
    fail(env, "native engine: this CPU cannot run the requested kernels");
    return nullptr;
  }
  napi_value result;
  napi_create_double(env, k->fmaPeak(single ? 1 : 0, iters), &result);
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_value supported;
  napi_create_array(env, &supported);
  uint32_t count = 0;
  const Kernels* best = nullptr;
  for (const Kernels* k : ALL) {
    if (!cpuRuns(k)) continue;
    if (best == nullptr) best = k;
    napi_value s;
    napi_create_string_utf8(env, k->name, NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, supported, count++, s);
  }
  napi_value bestName;
  napi_create_string_utf8(env, best->name, NAPI_AUTO_LENGTH, &bestName);
  napi_set_named_property(env, exports, "kernels", bestName);
  napi_set_named_property(env, exports, "supported", supported);
  const napi_property_descriptor fns[] = {
      {"create", nullptr, Create, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"lossGrad", nullptr, LossGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"predict", nullptr, Predict, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"dispose", nullptr, Dispose, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gemm", nullptr, Gemm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"fmaPeak", nullptr, FmaPeak, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return Init(env, exports); }
