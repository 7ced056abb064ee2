/**
 * Loading a built target for sampling: w*, the loss function L_n on the stored data, and L0.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TARGET_FILES, targetDir, targetFiles } from '../store/layout.js';
import { readContractFile, targetMeta, type TargetMeta } from '../contracts/index.js';
import { decodeSafetensors, type SafetensorsFile } from '../store/safetensors.js';
import { layerShapes } from '../engine/spec.js';
import type { Dataset, DType, EngineImpl, LossFunction, MlpSpec, NetworkModel } from '../engine/types.js';
import { makeModel } from './engine.js';
import { studentSpec } from './networks.js';
import { QuadraticLoss } from './quadratic.js';

export interface OpenedTarget {
  meta: TargetMeta;
  dir: string;
  /** w* as a flat vector in the engine's parameter layout. */
  wStar: Float64Array;
  /** L_n on the target's data (the quadratic's 0.5 |w - w*|^2 for that family). */
  loss: LossFunction;
  dim: number;
  n: number;
  /**
   * L_n(w*) evaluated by `loss` itself, so that the LLC draw at w* is exactly 0 whichever
   * engine is used (meta.L0 is the value recorded at build time).
   */
  L0: number;
  dtype: DType;
  /** The network spec; absent for the quadratic target. */
  spec?: MlpSpec;
  data?: Dataset;
  /** Releases engine memory; the loss must not be used afterwards. */
  dispose(): void;
}

export interface OpenOptions {
  /** Engine implementation; default wasm with TypeScript fallback. */
  impl?: EngineImpl;
}

function readSafetensors(path: string): SafetensorsFile {
  return decodeSafetensors(readFileSync(path), path);
}

function asF64(t: { data: Float64Array | Float32Array }): Float64Array {
  return t.data instanceof Float64Array ? t.data : Float64Array.from(t.data);
}

export function openTarget(home: string, targetId: string, opts: OpenOptions = {}): OpenedTarget {
  const dir = targetDir(home, targetId);
  if (!existsSync(dir)) {
    throw new Error(
      `target ${targetId} not found: no directory ${dir} (store ${home}); build it first with ` +
        "'lambda-hat build --config FILE', or set LAMBDA_HAT_HOME to the store that holds it",
    );
  }
  const files = targetFiles(dir);
  const missing = Object.values(TARGET_FILES).filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) {
    throw new Error(`target directory ${dir} is incomplete (missing ${missing.join(', ')}): delete it and build the target again`);
  }
  let meta: TargetMeta;
  try {
    meta = readContractFile(files.meta, targetMeta, 'target meta');
  } catch (err) {
    throw new Error(`${(err as Error).message}: delete ${dir} and build the target again`);
  }
  if (meta.target_id !== targetId) {
    throw new Error(`${files.meta} names target ${String(meta.target_id)}, not ${targetId}: the store is corrupted; delete ${dir} and build again`);
  }
  const params = readSafetensors(files.params);
  const cfg = meta.config;
  const n = meta.dims.n;

  if (cfg.model.family === 'quadratic') {
    const t = params.tensors.w_star;
    if (!t) throw new Error(`${files.params} has no tensor w_star`);
    const wStar = asF64(t);
    const loss = new QuadraticLoss(wStar, n);
    return { meta, dir, wStar, loss, dim: wStar.length, n, L0: loss.loss(wStar), dtype: meta.dtype, dispose: () => {} };
  }

  const spec = studentSpec(cfg.model)!;
  const shapes = layerShapes(spec);
  const wStar = new Float64Array(shapes.reduce((a, s) => a + s.size, 0));
  for (const s of shapes) {
    const t = params.tensors[s.name];
    if (!t || JSON.stringify(t.shape) !== JSON.stringify(s.shape)) {
      throw new Error(`${files.params}: tensor ${s.name} is ${t ? `of shape ${JSON.stringify(t.shape)}` : 'missing'}, expected ${JSON.stringify(s.shape)}`);
    }
    wStar.set(t.data, s.offset);
  }
  const d = readSafetensors(files.data);
  const X = d.tensors.X;
  const Y = d.tensors.Y;
  if (!X || !Y) throw new Error(`${files.data} lacks tensor X or Y`);
  const data: Dataset = { n: X.shape[0]!, inDim: X.shape[1]!, outDim: Y.shape[1]!, X: asF64(X), Y: asF64(Y) };
  if (cfg.training === null) throw new Error(`${files.meta}: a ${cfg.model.family} target has no training/loss section`);
  const model: NetworkModel = makeModel({ spec, data, loss: cfg.training.loss, dtype: meta.dtype }, opts.impl);
  return {
    meta,
    dir,
    wStar,
    loss: model,
    dim: model.dim,
    n: data.n,
    L0: model.loss(wStar),
    dtype: meta.dtype,
    spec,
    data,
    dispose: () => model.dispose(),
  };
}
