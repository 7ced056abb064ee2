// Model creation for targets: the requested engine, or by default the wasm engine with the
// TypeScript reference as fallback when wasm is not available (same contract, same numbers
// up to rounding; the implementation used is recorded in meta.json).
import { createModel } from '../engine/index.js';
import type { CreateModelOptions, EngineImpl, NetworkModel } from '../engine/types.js';

export function makeModel(opts: Omit<CreateModelOptions, 'impl'>, impl?: EngineImpl): NetworkModel {
  if (impl !== undefined) return createModel({ ...opts, impl });
  try {
    return createModel({ ...opts, impl: 'wasm' });
  } catch (err) {
    const msg = (err as Error).message ?? '';
    // Only an unavailable engine falls back; invalid inputs must surface as they are.
    if (!/wasm|not available|WebAssembly/i.test(msg)) throw err;
    return createModel({ ...opts, impl: 'ts' });
  }
}
