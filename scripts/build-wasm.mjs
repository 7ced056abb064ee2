#!/usr/bin/env node
// Placeholder replaced by the engine build: compiles assembly/ to build/*.wasm.
