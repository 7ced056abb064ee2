// The baseline build of the kernels: 16-byte vectors of the compiler's default target (SSE2 on
// x86-64), so it runs on any CPU the addon was compiled for.
#include <cstddef>
#include <cstdint>

#include "engine.h"

#define LH_ISA 1
#define LH_NS isa_base
#if defined(__x86_64__)
#define LH_NAME "sse2"
#else
#define LH_NAME "generic"
#endif
#define LH_TABLE kernelsBase
#include "kernels.inl"
