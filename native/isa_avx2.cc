// The AVX2 + FMA build of the kernels, chosen at run time on x86-64 without AVX-512.
#include <cstddef>
#include <cstdint>

#include "engine.h"

#if defined(__x86_64__)
#include <immintrin.h>
#pragma GCC target("avx2,fma")
#define LH_ISA 2
#define LH_NS isa_avx2
#define LH_NAME "avx2"
#define LH_TABLE kernelsAvx2
#include "kernels.inl"
#endif
