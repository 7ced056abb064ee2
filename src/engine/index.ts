// The engine's entry point: createModel picks an implementation behind the NetworkModel
// contract (types.ts). Callers above the engine import from here only.
import { TsModel } from './ts-model.js';
import type { CreateModelOptions, NetworkModel } from './types.js';

export type * from './types.js';
export { layerShapes, paramCount, validateSpec, type TensorShape } from './spec.js';

export function createModel(opts: CreateModelOptions): NetworkModel {
  const impl = opts.impl ?? 'wasm';
  if (impl === 'ts') return new TsModel(opts);
  throw new Error("the wasm engine is not available yet: pass impl: 'ts'");
}
