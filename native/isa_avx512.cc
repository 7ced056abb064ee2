// The AVX-512 build of the kernels (x86-64 with AVX-512 F/VL/DQ/BW), chosen at run time.
#include <cstddef>
#include <cstdint>

#include "engine.h"

#if defined(__x86_64__)
#include <immintrin.h>
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
#define LH_ISA 3
#define LH_NS isa_avx512
#define LH_NAME "avx512"
#define LH_TABLE kernelsAvx512
#include "kernels.inl"
#endif
