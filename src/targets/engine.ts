// Model creation for targets: the requested engine, or by default the engine's default (native
// when its addon loads, else wasm) with the TypeScript reference as fallback when neither can
// run (same contract, same numbers up to rounding; the implementation used is recorded in
// meta.json).
import { createModel } from '../engine/index.js';
import type { CreateModelOptions, EngineImpl, NetworkModel } from '../engine/types.js';

export function makeModel(opts: Omit<CreateModelOptions, 'impl'>, impl?: EngineImpl): NetworkModel {
  if (impl !== undefined) return createModel({ ...opts, impl });
  try {
    return createModel(opts);
  } catch (err) {
    const msg = (err as Error).message ?? '';
    // Only an unavailable engine falls back; invalid inputs must surface as they are.
    if (!/wasm|not available|WebAssembly/i.test(msg)) throw err;
    return createModel({ ...opts, impl: 'ts' });
  }
}
