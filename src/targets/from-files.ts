/**
 * Targets from files: a network trained elsewhere (readModelFile) and its data (readDataFile)
 * become a stored target like any other (targets/<id>/ with meta.json, params.safetensors,
 * data.safetensors), so sampling, diagnosis, reports and workflows see no difference.
 *
 * resolveFileTarget reads and checks both files before anything is written, and returns the
 * resolved config (hashed into the target id: both paths and both contents) and what it
 * inferred (the loss from the labels' dtype, the activation default), for the user to see.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { readModelFile, type ModelFile } from '../io/model-file.js';
import { readDataFile, type DataFile } from '../io/data-file.js';
import type { FileInitTraining, ResolvedTargetConfig } from '../contracts/index.js';
import type { Activation, Dataset, DType, LossSpec } from '../engine/types.js';

export interface FileTargetRequest {
  model: string;
  data: string;
  loss?: 'mse' | 'cross_entropy';
  activation?: Activation;
  /** Module order for files whose tensor names do not give it. */
  layers?: string[];
  dtype?: DType;
}

export interface ResolvedFileTarget {
  config: ResolvedTargetConfig;
  /** One line each: what was read and what was inferred. */
  notes: string[];
}

export const DEFAULT_FILE_ACTIVATION: Activation = 'relu';

function sha256Of(paths: string[]): string {
  const h = createHash('sha256');
  for (const p of paths) h.update(readFileSync(p));
  return h.digest('hex');
}

function dataPaths(data: string): string[] {
  return data.split(',').map((p) => resolvePath(p));
}

/** The number of classes a network's outputs score: q logits, or 2 for a single binary logit. */
function classesOf(outDim: number): number {
  return outDim === 1 ? 2 : outDim;
}

/** Checks the data against the network and the loss; returns the engine's Y. */
function targetsFor(model: ModelFile, data: DataFile, loss: LossSpec): Float64Array {
  const q = model.sizes[model.sizes.length - 1]!;
  const inDim = model.sizes[0]!;
  if (data.inDim !== inDim) {
    throw new Error(
      `${data.target.name.split(': ')[0]}: X has ${data.inDim} features but ${model.path}: tensor ${model.tensorNames[0]} takes ${inDim} inputs`,
    );
  }
  const t = data.target;
  if (loss.kind === 'cross_entropy') {
    if (t.kind !== 'labels') {
      throw new Error(
        `${t.name} holds real-valued targets (${t.dtype}); cross_entropy needs integer class labels y (e.g. int64), or use --loss mse`,
      );
    }
    const K = classesOf(q);
    const Y = new Float64Array(data.n * q);
    for (let i = 0; i < data.n; i++) {
      const c = t.labels[i]!;
      if (!Number.isInteger(c) || c >= K) {
        throw new Error(
          `${t.name}: label ${c} at row ${i} is out of range: the network's last layer ${model.tensorNames[model.tensorNames.length - 1]} ` +
            `scores ${K} classes (labels 0..${K - 1})`,
        );
      }
      if (q === 1) Y[i] = c;
      else Y[i * q + c] = 1;
    }
    return Y;
  }
  if (t.kind === 'labels') {
    if (q !== 1) throw new Error(`${t.name} holds one integer per row but the network has ${q} outputs: for classification use --loss cross_entropy`);
    return Float64Array.from(t.labels);
  }
  if (t.outDim !== q) {
    throw new Error(`${t.name} has ${t.outDim} targets per row but ${model.path}: the network has ${q} outputs`);
  }
  return t.Y;
}

export function resolveFileTarget(req: FileTargetRequest): ResolvedFileTarget {
  const modelPath = resolvePath(req.model);
  const model = readModelFile(modelPath, req.layers ? { layers: req.layers } : {});
  const data = readDataFile(dataPaths(req.data).join(','));
  const inferred: LossSpec['kind'] = data.target.kind === 'labels' ? 'cross_entropy' : 'mse';
  const lossKind = req.loss ?? inferred;
  const loss: LossSpec = lossKind === 'cross_entropy' ? { kind: 'cross_entropy' } : { kind: 'mse' };
  targetsFor(model, data, loss);
  const activation = req.activation ?? DEFAULT_FILE_ACTIVATION;
  const training: FileInitTraining = {
    init: 'file',
    loss,
    model_file: modelPath,
    model_sha256: sha256Of([modelPath]),
    data_file: dataPaths(req.data).join(','),
    data_sha256: sha256Of(dataPaths(req.data)),
    modules: model.modules,
  };
  const sizes = model.sizes;
  const config: ResolvedTargetConfig = {
    model: {
      family: 'mlp',
      in_dim: sizes[0]!,
      out_dim: sizes[sizes.length - 1]!,
      widths: sizes.slice(1, -1),
      activation,
      bias: model.bias,
      layernorm: false,
    },
    data: { n: data.n },
    teacher: null,
    training,
    seed: 0,
    dtype: req.dtype ?? 'float64',
  };
  const dtypes = [...new Set(model.dtypes)].join('/');
  const labelNote =
    data.target.kind === 'labels'
      ? `integer labels ${data.target.name} (${data.target.dtype})`
      : `real targets ${data.target.name} (${data.target.dtype})`;
  const notes = [
    `model ${model.path}: ${model.modules.length} linear layers ${sizes.join('-')} (modules ${model.modules.join(', ')}; ${dtypes}), ` +
      `${model.bias ? 'with' : 'without'} bias, ${model.theta.length} parameters`,
    `data ${data.path}: n = ${data.n}, ${data.inDim} features, ${labelNote}`,
    req.loss === undefined
      ? `loss ${lossKind} (inferred from the ${data.target.kind === 'labels' ? 'integer labels' : 'real-valued targets'}; --loss to change)`
      : `loss ${lossKind} (--loss)`,
    req.activation === undefined
      ? `activation ${activation} between the linear layers (the default; a safetensors file does not record it: --activation relu|tanh|gelu|identity)`
      : `activation ${activation} between the linear layers (--activation)`,
  ];
  if (sizes.length === 2) notes.pop(); // one linear layer: no activation is applied
  return { config, notes };
}

/** What the build stage needs from a file target: w* and the engine's dataset. */
export function loadFileTarget(config: ResolvedTargetConfig): { theta: Float64Array; data: Dataset } {
  const t = config.training;
  if (t === null || t.init !== 'file') throw new Error('loadFileTarget needs a target whose training.init is file');
  const changed = (what: string, path: string): Error =>
    new Error(`${path}: the ${what} file changed since the target was resolved (sha256 differs); run the command again`);
  if (sha256Of([t.model_file]) !== t.model_sha256) throw changed('model', t.model_file);
  if (sha256Of(t.data_file.split(',')) !== t.data_sha256) throw changed('data', t.data_file);
  const model = readModelFile(t.model_file, { layers: t.modules });
  const data = readDataFile(t.data_file);
  const Y = targetsFor(model, data, t.loss);
  const q = model.sizes[model.sizes.length - 1]!;
  return { theta: model.theta, data: { n: data.n, inDim: data.inDim, outDim: q, X: data.X, Y } };
}

/**
 * The source name of each tensor in the engine's flat order, with its offset and size: a file
 * target's module names (`0.weight`, `2.bias`), lambda-hat's `layers.<k>.weight` otherwise.
 */
export function tensorTable(
  config: ResolvedTargetConfig,
  shapes: { name: string; offset: number; size: number }[],
): { name: string; module: string; offset: number; size: number }[] {
  const t = config.training;
  const modules = t !== null && t.init === 'file' ? t.modules : null;
  return shapes.map((s) => {
    const m = /^layers\.(\d+)\.(weight|bias)$/.exec(s.name)!;
    const module = modules === null ? `layers.${m[1]}` : modules[Number(m[1])]!;
    return { name: `${module}.${m[2]}`, module, offset: s.offset, size: s.size };
  });
}
