/**
 * Stage A: build a target (data, w*, L0) into the store as targets/<id>/ with meta.json,
 * params.safetensors and data.safetensors. The directory is written atomically, so its
 * existence means it is complete; an existing target is reused, never rebuilt.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sha256Hex, writeDirAtomic, writeFileAtomic, writeJsonAtomic } from '../store/index.js';
import { TARGET_FILES as FILES, targetDir, targetFiles } from '../store/layout.js';
import { targetMeta, tryReadContractFile, type ResolvedTargetConfig, type TargetMeta, type TrainProgressEvent } from '../contracts/index.js';
import { encodeSafetensors, type Tensor } from '../store/safetensors.js';
import { CODE_VERSION } from '../version.js';
import { layerShapes } from '../engine/spec.js';
import type { DType, EngineImpl, MlpSpec } from '../engine/types.js';
import { targetIdOf } from '../config/experiment.js';
import { generateData } from './data.js';
import { makeModel } from './engine.js';
import { studentInit, studentSpec } from './networks.js';
import { QuadraticLoss, quadraticWStar } from './quadratic.js';
import { loadFileTarget } from './from-files.js';
import { l2, subsampleCurve, train } from './train.js';

export const META_FILE = FILES.meta;
export const PARAMS_FILE = FILES.params;
export const DATA_FILE = FILES.data;
export const TARGET_FILES = [META_FILE, PARAMS_FILE, DATA_FILE] as const;

export type { TargetMeta };

/** Training progress of the target being built. */
export type BuildProgress = TrainProgressEvent;

export interface BuildOptions {
  impl?: EngineImpl;
  onProgress?: (p: BuildProgress) => void;
  /** Clock for progress throttling and wall time (tests). */
  now?: () => number;
}

export interface BuiltTarget {
  target_id: string;
  dir: string;
  reused: boolean;
  /** meta.json's warnings (also for a reused target). */
  warnings: string[];
}

function readWarnings(dir: string): string[] {
  return tryReadContractFile(targetFiles(dir).meta, targetMeta)?.warnings ?? [];
}

/** True when dir holds a complete target with this id (meta.json meets its contract and names it). */
export function isCompleteTarget(dir: string, targetId: string): boolean {
  if (!TARGET_FILES.every((f) => existsSync(join(dir, f)))) return false;
  return tryReadContractFile(targetFiles(dir).meta, targetMeta)?.target_id === targetId;
}

function tensorOf(dtype: DType, shape: number[], data: Float64Array): Tensor {
  return dtype === 'float32'
    ? { dtype: 'F32', shape, data: Float32Array.from(data) }
    : { dtype: 'F64', shape, data };
}

function paramsTensors(spec: MlpSpec, theta: Float64Array, dtype: DType): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const s of layerShapes(spec)) out[s.name] = tensorOf(dtype, s.shape, theta.subarray(s.offset, s.offset + s.size));
  return out;
}

interface Built {
  params: Uint8Array;
  data: Uint8Array;
  meta: Omit<TargetMeta, 'files' | 'created_at' | 'warnings'>;
}

/** Gradient norm above which w* is reported as not a (near-)critical point of L_n. */
export const GRAD_NORM_WARN = 1e-3;

function warningsOf(meta: Built['meta']): string[] {
  const w: string[] = [];
  const t = meta.training;
  if (t.init === 'random' && t.final_grad_norm > GRAD_NORM_WARN) {
    w.push(
      `training ended with gradient norm ${t.final_grad_norm.toExponential(2)} > ${GRAD_NORM_WARN} after ${t.steps_run} steps: ` +
        'w* is not a critical point of L_n, so the LLC estimate is biased ' +
        (t.polish ? `(the L-BFGS polish ran ${t.polish.iterations} iterations from ${t.polish.grad_norm_before.toExponential(2)}: raise training.polish.steps or training.steps)` : '(raise training.steps, or let training.polish run)'),
    );
  }
  const cfg = meta.config.training;
  if (t.init === 'file' && cfg !== null && cfg.init === 'file' && t.final_grad_norm > GRAD_NORM_WARN) {
    w.push(
      `w* not a minimum: the gradient norm of L_n at the weights of ${cfg.model_file} on ${cfg.data_file} is ` +
        `${t.final_grad_norm.toExponential(2)} > ${GRAD_NORM_WARN}, so the LLC estimate there is biased (train to convergence; ` +
        'check the loss, the activation and that the data are the training data)',
    );
  }
  if (t.init === 'teacher' && t.final_grad_norm > GRAD_NORM_WARN) {
    w.push(
      `w* is the teacher, but the labels are noisy (gradient norm ${t.final_grad_norm.toExponential(2)} at w*): ` +
        'w* is the population minimum, not a minimum of L_n',
    );
  }
  return w;
}

function computeTarget(config: ResolvedTargetConfig, targetId: string, opts: BuildOptions): Built {
  const now = opts.now ?? (() => performance.now());
  const t0 = now();
  const { model, dtype } = config;
  const base = { target_id: targetId, config, dtype, code_version: CODE_VERSION, host: hostname() };
  const md = { format: 'lambda-hat', target_id: targetId };
  if (model.family === 'quadratic') {
    const n = config.data.n;
    const wStar = quadraticWStar(model.dim, config.seed);
    if (dtype === 'float32') for (let i = 0; i < wStar.length; i++) wStar[i] = Math.fround(wStar[i]!);
    return {
      params: encodeSafetensors({ w_star: tensorOf(dtype, [model.dim], wStar) }, md),
      // No data: empty X and Y keep the file contract (n rows) without inventing inputs.
      data: encodeSafetensors({ X: tensorOf(dtype, [n, 0], new Float64Array(0)), Y: tensorOf(dtype, [n, 0], new Float64Array(0)) }, md),
      meta: {
        ...base,
        family: 'quadratic',
        dims: { n, in_dim: 0, out_dim: 0, p: model.dim },
        L0: new QuadraticLoss(wStar, n).loss(wStar),
        engine_impl: null,
        training: { init: 'exact', steps_run: 0, early_stopped: false, final_loss: 0, final_grad_norm: 0, wall_s: (now() - t0) / 1000 },
      },
    };
  }
  const training = config.training;
  if (training === null) throw new Error(`target ${targetId}: a ${model.family} target needs a training section`);
  const spec = studentSpec(model)!;
  const fromFile = training.init === 'file' ? loadFileTarget(config) : null;
  const generated = fromFile === null ? generateData(config) : null;
  const data = fromFile?.data ?? generated!;
  const net = makeModel({ spec, data, loss: training.loss, dtype }, opts.impl);
  try {
    let theta: Float64Array;
    let summary: TargetMeta['training'];
    if (fromFile !== null) {
      theta = Float64Array.from(fromFile.theta);
      if (dtype === 'float32') for (let i = 0; i < theta.length; i++) theta[i] = Math.fround(theta[i]!);
      const grad = new Float64Array(net.dim);
      const L = net.lossAndGrad(theta, grad);
      summary = { init: 'file', steps_run: 0, early_stopped: false, final_loss: L, final_grad_norm: l2(grad), wall_s: 0 };
    } else if (training.init === 'teacher') {
      theta = Float64Array.from(generated!.teacher!.theta);
      if (dtype === 'float32') for (let i = 0; i < theta.length; i++) theta[i] = Math.fround(theta[i]!);
      const grad = new Float64Array(net.dim);
      const L = net.lossAndGrad(theta, grad);
      summary = { init: 'teacher', steps_run: 0, early_stopped: false, final_loss: L, final_grad_norm: l2(grad), wall_s: 0 };
    } else {
      if (training.init !== 'random') throw new Error(`target ${targetId}: unknown training init`);
      const r = train(net, studentInit(spec, config.seed, model.family === 'mlp' ? model.init ?? 'he' : 'he'), training, dtype, {
        now: opts.now,
        onProgress: opts.onProgress ? (p) => opts.onProgress!({ stage: 'train', target_id: targetId, ...p }) : undefined,
      });
      theta = r.theta;
      summary = {
        init: 'random',
        optimizer: training.optimizer,
        steps_max: training.steps,
        steps_run: r.stepsRun,
        early_stopped: r.earlyStopped,
        initial_loss: r.losses[0]!,
        final_loss: r.finalLoss,
        final_grad_norm: r.finalGradNorm,
        wall_s: 0,
        loss_curve: subsampleCurve(r.losses),
        ...(r.polish ? { polish: r.polish } : {}),
      };
    }
    const L0 = net.loss(theta);
    summary.wall_s = (now() - t0) / 1000;
    return {
      params: encodeSafetensors(paramsTensors(spec, theta, dtype), md),
      data: encodeSafetensors(
        { X: tensorOf(dtype, [data.n, data.inDim], data.X), Y: tensorOf(dtype, [data.n, data.outDim], data.Y) },
        md,
      ),
      meta: {
        ...base,
        family: model.family,
        dims: { n: data.n, in_dim: data.inDim, out_dim: data.outDim, p: net.dim },
        L0,
        engine_impl: net.impl,
        training: summary,
      },
    };
  } finally {
    net.dispose();
  }
}

/**
 * Builds the target of a resolved config under `home` (or reuses it when complete).
 * A directory with this id that is not complete (e.g. edited by hand) is moved aside and
 * rebuilt; temp directories of interrupted builds are never taken as targets.
 */
export async function buildTarget(home: string, config: ResolvedTargetConfig, opts: BuildOptions = {}): Promise<BuiltTarget> {
  const targetId = targetIdOf(config);
  const dir = targetDir(home, targetId);
  if (isCompleteTarget(dir, targetId)) return { target_id: targetId, dir, reused: true, warnings: readWarnings(dir) };
  if (existsSync(dir)) {
    // Checked again: a concurrent builder may have just renamed its complete result into place.
    if (isCompleteTarget(dir, targetId)) return { target_id: targetId, dir, reused: true, warnings: readWarnings(dir) };
    const aside = `${dir}.incomplete-${process.pid}-${randomBytes(4).toString('hex')}`;
    renameSync(dir, aside);
    rmSync(aside, { recursive: true, force: true });
  }
  const built = computeTarget(config, targetId, opts);
  const created = await writeDirAtomic(dir, (tmp) => {
    writeFileAtomic(join(tmp, PARAMS_FILE), built.params);
    writeFileAtomic(join(tmp, DATA_FILE), built.data);
    const meta: TargetMeta = {
      ...built.meta,
      created_at: new Date().toISOString(),
      files: {
        [PARAMS_FILE]: { sha256: sha256Hex(built.params), bytes: built.params.length },
        [DATA_FILE]: { sha256: sha256Hex(built.data), bytes: built.data.length },
      },
      warnings: warningsOf(built.meta),
    };
    writeJsonAtomic(join(tmp, META_FILE), meta);
  });
  // Another writer finishing first is fine: identical inputs give identical tensors.
  return { target_id: targetId, dir, reused: !created, warnings: readWarnings(dir) };
}
