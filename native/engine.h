// Shared declarations of the native engine: the model state (Net), which the N-API layer
// (addon.cc) allocates, and the table of entry points that each instruction-set build of the
// kernels (kernels.inl compiled three times, see isa_*.cc) fills in.
//
// Everything here is plain data: the kernel builds are compiled with different target options,
// so they must not share inline functions (an inline function instantiated in an AVX-512 unit
// could be the one the linker keeps for the SSE2 unit).
#ifndef LAMBDA_HAT_ENGINE_H
#define LAMBDA_HAT_ENGINE_H

#include <cstddef>
#include <cstdint>

namespace lh {

enum Activation { ACT_IDENTITY = 0, ACT_RELU = 1, ACT_TANH = 2, ACT_GELU = 3 };

// The loss head switches on this; a new loss adds a kind here and a case in lossRow (kernels.inl).
enum LossKind { LOSS_MSE = 0, LOSS_STUDENT_T = 1, LOSS_CROSS_ENTROPY = 2 };

// Rows of a batch processed at once: the activation buffers hold CHUNK rows, so memory does not
// grow with n, and every term of the loss and gradient is a sum over rows, so chunks add up.
constexpr int CHUNK = 1024;

// Upper bounds of the blocking parameters over all kernel builds; the buffers are sized with
// them so that one Net works with any build.
constexpr int MAX_MR = 16;
constexpr int MAX_NR = 32;
constexpr int MAX_KC = 512;
constexpr int MAX_MC = 96;
constexpr int MAX_NC = 4096;
// Elements of slack after every internal buffer: the micro-kernel may read up to MAX_MR
// elements past the last row of an operand it reads in place (those lanes are discarded).
constexpr int PAD = 64;

struct Layer {
  int fanIn;
  int fanOut;
  int64_t wOff;  // offset of W [fanOut, fanIn] in the flat parameter vector
  int64_t bOff;  // offset of the bias, or -1
};

struct Net {
  int nLayers;
  Layer* layers;
  int act;
  int layerNorm;
  int lossKind;
  double nu;
  double sigma;
  int single;  // 1: float32 compute, 0: float64
  int n;
  int inDim;
  int outDim;
  int cap;  // rows per chunk: min(n, CHUNK)
  int64_t dim;
  int maxWidth;
  // Buffers of the compute type (float or double), each followed by PAD elements.
  void* X;       // [n, inDim]
  void* Y;       // [n, outDim]
  void* P;       // parameters (float32 only; float64 reads theta in place)
  void* G;       // gradient accumulator (float32 only; float64 writes grad in place)
  void* h0;      // [cap, inDim] gathered minibatch rows / predict input
  void** hs;     // per hidden layer: [cap, width] activations
  void** deriv;  // per hidden layer: [cap, width] act'(z), kept only when gelu or LayerNorm
  void** rstd;   // per hidden layer: [cap] 1/std of LayerNorm
  void* out;     // [cap, outDim]
  void* dA;      // [cap, maxWidth] gradient ping-pong buffers
  void* dB;
  void* packA;   // packABytes(): the A block plus an edge sliver
  void* packB;   // packBBytes(maxWidth, cap): a kc-deep slice of B
};

// One instruction-set build of the kernels.
struct Kernels {
  const char* name;
  // Loss of the batch (rows == nullptr: all n rows, else nRows indices); when grad is non-null
  // also writes dL/dtheta into it. theta and grad have net->dim elements.
  double (*lossGrad)(Net* net, const double* theta, double* grad, const int32_t* rows, int nRows);
  // Network outputs for `rows` input rows.
  void (*predict)(Net* net, const double* theta, const double* X, int rows, double* out);
  // C[M, N] (+)= A B with A(i, k) = A[i*rsa + k*csa], B(k, j) = B[k*rsb + j*csb], C row-major
  // with leading dimension ldc, in float64 (single = 0) or float32 (single = 1, the operands are
  // float arrays). For tests of every packing path; work is sized like Net::packA + packB.
  void (*gemm)(int single, int M, int N, int K, const void* A, int64_t rsa, int64_t csa, const void* B,
               int64_t rsb, int64_t csb, void* C, int64_t ldc, int accumulate, void* packA, void* packB);
  // Runs `iters` steps of independent vector multiply-adds in this build's widest registers and
  // returns the floating-point operations done: with the CPU time it took, one core's peak.
  double (*fmaPeak)(int single, int64_t iters);
};

extern const Kernels kernelsAvx512;
extern const Kernels kernelsAvx2;
extern const Kernels kernelsBase;

}  // namespace lh

#endif
