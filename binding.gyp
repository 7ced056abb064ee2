{
  # The native engine (native/*.cc), built by scripts/build-native.mjs at install time. The three
  # kernel builds are compiled for their instruction sets through `#pragma GCC target` in their
  # own sources, so the flags here stay portable: no -march, the addon runs on any x86-64 and
  # picks its kernels at run time.
  "targets": [
    {
      "target_name": "lambda_hat_native",
      "sources": [
        "native/addon.cc",
        "native/isa_avx512.cc",
        "native/isa_avx2.cc",
        "native/isa_base.cc"
      ],
      "cflags!": ["-O2", "-O0"],
      "cflags_cc!": ["-O2", "-O0"],
      "cflags": ["-O3", "-fvisibility=hidden"],
      "cflags_cc": ["-O3", "-fvisibility=hidden", "-std=gnu++17"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
