/**
 * Resolution of one target entry into the config a target is built from (and hashed by):
 * presets expanded, layers merged (preset < entry < overrides), defaults filled, and only
 * the keys that affect the result kept, so that two spellings of the same target (a preset
 * name or the equivalent inline mapping) share one id and an unused setting never changes it.
 */
import { dirname, resolve as resolvePath } from 'node:path';
import { resolveFileTarget } from '../targets/from-files.js';
import { deepMerge, isPlainObject, type ConfigPath, type ConfigSource } from './load.js';
import { loadPreset } from './presets.js';
import type {
  DataConfig,
  DlnModelConfig,
  DlnTeacherConfig,
  MlpModelConfig,
  MlpTeacherConfig,
  ModelConfig,
  QuadraticModelConfig,
  RandomInitTraining,
  ResolvedTargetConfig,
  TeacherConfig,
  TeacherInitTraining,
  TrainingConfig,
} from '../contracts/index.js';
import { whereOf, type CompatLog } from './python-compat.js';
import {
  dataSection,
  modelSection,
  teacherSection,
  trainingSection,
  type ChainsSection,
  type DataSection,
  type ModelSection,
  type PosteriorSection,
  type TargetEntry,
  type TeacherSection,
  type TrainingSection,
} from './schema.js';
import { solveWidths } from './widths.js';
import { POLISH_STEPS, POLISH_TOL } from '../targets/train.js';
import type { DType, LossSpec } from '../engine/types.js';

export type {
  DataConfig,
  DlnModelConfig,
  DlnTeacherConfig,
  MlpModelConfig,
  MlpTeacherConfig,
  ModelConfig,
  QuadraticModelConfig,
  RandomInitTraining,
  ResolvedTargetConfig,
  TeacherConfig,
  TeacherInitTraining,
  TrainingConfig,
};

/** Sampling-time settings carried by a target entry; not part of the target's identity. */
export interface TargetSamplingSettings {
  posterior?: Given<PosteriorSection>;
  chains?: Given<ChainsSection>;
  burn_in?: number;
}

interface Ctx {
  source: ConfigSource;
  /** Path of the entry inside its file (e.g. ['targets', 0]). */
  at: ConfigPath;
  presetsDir?: string;
  /** Receives the notes about Python keys (presets included) and unused settings. */
  log?: CompatLog;
}

/** A section after its layers are merged: null (= "default") removed, so absent means default. */
export type Given<T> = { [K in keyof T]?: Exclude<T[K], null | undefined> };

function withoutPreset<T extends { preset?: string | null }>(v: T | null | undefined): Omit<T, 'preset'> {
  if (!v) return {} as Omit<T, 'preset'>;
  const { preset: _p, ...rest } = v;
  return rest;
}

/** Removes null values (recursively through mappings): null means "the default". */
export function dropNulls<T>(v: T): Given<T> {
  if (!isPlainObject(v)) return v as Given<T>;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = isPlainObject(x) ? dropNulls(x) : x;
  return out as Given<T>;
}

/** A merged section and, for each key, where the winning value was written (entry or override; a preset gives none). */
interface Layered<T> {
  value: Given<T>;
  writtenAt(key: string): ConfigPath | undefined;
}

function layered<T extends { preset?: string | null }>(
  kind: 'model' | 'data' | 'teacher',
  schema: typeof modelSection | typeof dataSection | typeof teacherSection,
  entry: T | null | undefined,
  override: T | null | undefined,
  ctx: Ctx,
  fallbackPreset?: string,
): Layered<T> {
  const presetName = entry?.preset ?? fallbackPreset;
  const base = presetName !== undefined
    ? (loadPreset(kind, presetName, schema, { source: ctx.source, path: [...ctx.at, kind] }, ctx.presetsDir, ctx.log) as T)
    : ({} as T);
  const value = dropNulls(deepMerge(deepMerge(base, withoutPreset(entry)), withoutPreset(override)) as T);
  return {
    value,
    writtenAt: (key) => {
      if (override && isPlainObject(override) && Object.hasOwn(override, key)) return [...ctx.at, 'overrides', kind];
      if (entry && isPlainObject(entry) && Object.hasOwn(entry, key)) return [...ctx.at, kind];
      return undefined;
    },
  };
}

/** One warning for a setting that is valid but has no effect in this combination. */
function unused(ctx: Ctx, parent: ConfigPath | undefined, key: string, value: unknown, message: string): void {
  if (!ctx.log || parent === undefined) return;
  ctx.log.add({ kind: 'no_effect', where: whereOf(ctx.source, parent, key), key: [...parent, key].map(String).join('.'), value, message });
}

function checkOnly(obj: Record<string, unknown>, allowed: string[], what: string, path: ConfigPath, ctx: Ctx): void {
  for (const k of Object.keys(obj)) {
    if (obj[k] !== undefined && !allowed.includes(k)) {
      throw ctx.source.error(path, `key '${k}' does not apply to ${what}`, `keys used here: ${allowed.join(', ')}`);
    }
  }
}

export function resolveModel(layers: Layered<ModelSection>, ctx: Ctx): ModelConfig {
  const m = layers.value;
  const path = [...ctx.at, 'model'];
  const family = m.family ?? 'mlp';
  const need = (k: keyof Given<ModelSection>): number => {
    const v = m[k];
    if (typeof v !== 'number') throw ctx.source.error(path, `model family '${family}' needs '${k}'`);
    return v;
  };
  if (family === 'quadratic') {
    checkOnly(withoutPreset(m), ['family', 'dim'], 'the quadratic family', path, ctx);
    return { family, dim: need('dim') };
  }
  const in_dim = need('in_dim');
  const out_dim = need('out_dim');
  let widths: number[];
  if (m.widths !== undefined) {
    if (m.widths.length === 0 && family === 'mlp') {
      throw ctx.source.error([...path, 'widths'], 'an MLP needs at least one hidden layer');
    }
    if (m.depth !== undefined && m.depth !== m.widths.length) {
      throw ctx.source.error(
        [...path, 'widths'],
        `widths ${JSON.stringify(m.widths)} has ${m.widths.length} layers but depth is ${m.depth}`,
        'make depth equal the number of widths, or drop one of them',
      );
    }
    widths = [...m.widths];
  } else if (m.depth !== undefined && m.target_params !== undefined) {
    widths = solveWidths(in_dim, out_dim, m.depth, m.target_params);
  } else if (m.depth !== undefined && m.hidden !== undefined) {
    widths = new Array<number>(m.depth).fill(m.hidden);
  } else {
    throw ctx.source.error(path, `model family '${family}' needs 'widths', or 'depth' and 'target_params' (or 'hidden')`);
  }
  if (m.hidden !== undefined && (m.widths !== undefined || m.target_params !== undefined)) {
    unused(ctx, layers.writtenAt('hidden'), 'hidden', m.hidden,
      `no effect: ${m.widths !== undefined ? 'widths' : 'target_params'} sets the widths (as in the Python system); set target_params: null to use hidden`);
  }
  if (family === 'dln') {
    checkOnly(withoutPreset(m), ['family', 'in_dim', 'out_dim', 'widths', 'depth', 'target_params', 'hidden'], 'the dln family (identity activation, no bias)', path, ctx);
    return { family, in_dim, out_dim, widths };
  }
  if (m.dim !== undefined) throw ctx.source.error([...path, 'dim'], "'dim' applies only to family quadratic");
  const out: MlpModelConfig = {
    family: 'mlp',
    in_dim,
    out_dim,
    widths,
    activation: m.activation ?? 'relu',
    bias: m.bias ?? true,
    layernorm: m.layernorm ?? false,
  };
  // He is the default and is left out of the resolved config, so targets built before the
  // key existed keep their ids.
  if ((m.init ?? 'he') !== 'he') out.init = m.init as 'uniform';
  return out;
}

export function resolveData(d: Given<DataSection>, model: ModelConfig, ctx: Ctx): DataConfig {
  const path = [...ctx.at, 'data'];
  if (d.n === undefined) throw ctx.source.error(path, "data needs 'n' (number of rows)");
  if (model.family === 'quadratic') return { n: d.n };
  const x_dist = d.x_dist ?? 'gauss_iso';
  const out: DataConfig = { n: d.n, x_dist };
  switch (x_dist) {
    case 'gauss_aniso':
      out.cov_decay = d.cov_decay ?? 0.9;
      break;
    case 'mixture':
      out.mixture_k = d.mixture_k ?? 4;
      out.mixture_spread = d.mixture_spread ?? 2.0;
      break;
    case 'lowdim_manifold':
      out.x_dim_latent = d.x_dim_latent ?? Math.max(1, Math.floor(model.in_dim / 2));
      break;
    case 'heavy_tail':
      out.x_df = d.student_df ?? 5;
      break;
    case 'uniform':
      out.uniform_low = d.uniform_low ?? -1;
      out.uniform_high = d.uniform_high ?? 1;
      if (!(out.uniform_high > out.uniform_low)) {
        throw ctx.source.error(path, `uniform needs uniform_low < uniform_high, got [${out.uniform_low}, ${out.uniform_high}]`);
      }
      break;
    case 'gauss_iso':
      break;
  }
  const noise_model = d.noise_model ?? 'gauss';
  out.noise_model = noise_model;
  out.noise_scale = d.noise_scale ?? 0.1;
  switch (noise_model) {
    case 'hetero':
      out.hetero_scale = d.hetero_scale ?? 1.0;
      break;
    case 'student_t':
      out.noise_df = d.student_df ?? 5;
      break;
    case 'outliers':
      out.outlier_frac = d.outlier_frac ?? 0.05;
      out.outlier_scale = d.outlier_scale ?? 5.0;
      break;
    case 'gauss':
      break;
  }
  return out;
}

/**
 * `student` is the student's merged model section: a teacher given only a depth takes the
 * student's target_params, else its hidden width (the Python system's fallbacks).
 */
export function resolveTeacher(t: Given<TeacherSection>, model: ModelConfig, ctx: Ctx, student: Given<ModelSection> = {}): TeacherConfig | null {
  if (model.family === 'quadratic') return null;
  const path = [...ctx.at, 'teacher'];
  const family = t.family ?? (model.family === 'dln' || t.rank !== undefined ? 'dln' : 'mlp');
  const dropout_rate = t.dropout_rate ?? 0;
  let widths: number[];
  if (t.widths !== undefined) {
    if (t.depth !== undefined && t.depth !== t.widths.length) {
      throw ctx.source.error([...path, 'widths'], `teacher widths ${JSON.stringify(t.widths)} has ${t.widths.length} layers but depth is ${t.depth}`);
    }
    widths = [...t.widths];
  } else if (t.depth !== undefined) {
    const P = t.target_params ?? (t.hidden === undefined ? student.target_params : undefined);
    const h = t.hidden ?? student.hidden;
    if (P !== undefined) widths = solveWidths(model.in_dim, model.out_dim, t.depth, P);
    else if (h !== undefined) widths = new Array<number>(t.depth).fill(h);
    else throw ctx.source.error(path, "teacher 'depth' needs 'target_params' or 'hidden' (or give 'widths')");
  } else {
    widths = [...model.widths];
  }
  if (family === 'dln') {
    if (t.activation !== undefined && t.activation !== 'identity') {
      throw ctx.source.error([...path, 'activation'], 'a dln teacher is linear (activation identity)');
    }
    if (t.bias === true) throw ctx.source.error([...path, 'bias'], 'a dln teacher has no bias');
    const sizes = [model.in_dim, ...widths, model.out_dim];
    const maxRank = Math.min(...sizes);
    const rank = t.rank ?? maxRank;
    if (rank > maxRank) {
      throw ctx.source.error(
        [...path, 'rank'],
        `rank ${rank} exceeds the smallest layer size ${maxRank} of ${sizes.join('-')}`,
        `a product of these factors has rank at most ${maxRank}`,
      );
    }
    return { family: 'dln', widths, rank, dropout_rate };
  }
  if (t.rank !== undefined) throw ctx.source.error([...path, 'rank'], "'rank' applies only to a dln teacher (family: dln)");
  const studentAct = model.family === 'mlp' ? model.activation : 'identity';
  const studentBias = model.family === 'mlp' ? model.bias : false;
  return {
    family: 'mlp',
    widths,
    activation: t.activation ?? studentAct,
    bias: t.bias ?? studentBias,
    dropout_rate,
  };
}

export function resolveTraining(
  tr: Given<TrainingSection>,
  model: ModelConfig,
  teacher: TeacherConfig | null,
  ctx: Ctx,
  where: ConfigPath,
): TrainingConfig | null {
  if (model.family === 'quadratic') return null;
  const loss: LossSpec = (tr.loss ?? 'mse') === 'mse'
    ? { kind: 'mse' }
    : { kind: 'student_t', nu: tr.loss_nu ?? 4, sigma: tr.loss_sigma ?? 1 };
  if ((tr.init ?? 'random') === 'teacher') {
    if (!teacher) throw ctx.source.error(where, 'init: teacher needs a teacher');
    const sameWidths = JSON.stringify(teacher.widths) === JSON.stringify(model.widths);
    const sameKind = model.family === 'dln'
      ? teacher.family === 'dln' || (teacher.activation === 'identity' && !teacher.bias)
      : teacher.family === 'mlp' && teacher.activation === model.activation && teacher.bias === model.bias && !model.layernorm;
    if (!sameWidths || !sameKind) {
      const tDesc = teacher.family === 'dln' ? `dln ${JSON.stringify(teacher.widths)}` : `${teacher.activation} ${JSON.stringify(teacher.widths)} bias ${teacher.bias}`;
      const sDesc = model.family === 'dln' ? `dln ${JSON.stringify(model.widths)}` : `${model.activation} ${JSON.stringify(model.widths)} bias ${model.bias}${model.layernorm ? ' layernorm' : ''}`;
      throw ctx.source.error(
        where,
        `init: teacher needs the teacher to have the student's architecture, but the teacher is ${tDesc} and the student ${sDesc}`,
        'drop the teacher widths/activation, or train from a random init',
      );
    }
    if (teacher.dropout_rate > 0) {
      throw ctx.source.error(where, 'init: teacher with teacher dropout_rate > 0: the dropped outputs are not the teacher network');
    }
    return { init: 'teacher', loss };
  }
  const optimizer = tr.optimizer ?? 'adam';
  const es = tr.early_stop;
  const out: RandomInitTraining = {
    init: 'random',
    optimizer,
    lr: tr.lr ?? 1e-3,
    steps: tr.steps ?? 5000,
    early_stop: es?.enabled === false ? false : { window: es?.window ?? 20, tol: es?.tol ?? 1e-6, after: es?.after ?? 100 },
    polish: tr.polish === false ? false : { steps: tr.polish?.steps ?? POLISH_STEPS, tol: tr.polish?.tol ?? POLISH_TOL },
    loss,
  };
  if (optimizer === 'adam' || optimizer === 'adamw') {
    out.beta1 = tr.beta1 ?? 0.9;
    out.beta2 = tr.beta2 ?? 0.999;
    out.eps = tr.eps ?? 1e-8;
  }
  if (optimizer === 'adamw') out.weight_decay = tr.weight_decay ?? 1e-4;
  if (optimizer === 'sgd') out.momentum = tr.momentum ?? 0;
  return out;
}

export interface ResolveOptions {
  /** dtype from the enclosing experiment (its `dtype` or `jax_enable_x64`). */
  defaultDtype?: DType;
  presetsDir?: string;
  /** Receives notes about Python keys in presets and settings without effect. */
  log?: CompatLog;
}

/** Resolves one validated target entry. `at` is its path in the file, for error locations. */
export function resolveTargetEntry(
  entry: TargetEntry,
  source: ConfigSource,
  at: ConfigPath,
  opts: ResolveOptions = {},
): { config: ResolvedTargetConfig; sampling: TargetSamplingSettings } {
  const ctx: Ctx = { source, at, presetsDir: opts.presetsDir, ...(opts.log ? { log: opts.log } : {}) };
  const ov = entry.overrides ?? {};
  const modelFile = ov.model?.file ?? entry.model.file;
  if (modelFile != null) return resolveFileEntry(entry, modelFile, source, at, opts);
  const m = layered('model', modelSection, entry.model, ov.model, ctx);
  const model = resolveModel(m, ctx);
  const d = layered('data', dataSection, entry.data, ov.data, ctx);
  const data = resolveData(d.value, model, ctx);
  const t = layered('teacher', teacherSection, entry.teacher, ov.teacher, ctx, entry.teacher?.preset ?? '_null');
  const teacher = resolveTeacher(t.value, model, ctx, m.value);
  const trainPreset = entry.training?.preset ?? 'defaults';
  const trBase = loadPreset('training', trainPreset, trainingSection, { source, path: [...at, 'training'] }, opts.presetsDir, opts.log);
  const tr = dropNulls(deepMerge(deepMerge(trBase, withoutPreset(entry.training)), withoutPreset(ov.training)) as TrainingSection);
  const trWhere = ov.training?.init != null ? [...at, 'overrides', 'training', 'init'] : entry.training?.init != null ? [...at, 'training', 'init'] : [...at];
  const training = resolveTraining(tr, model, teacher, ctx, trWhere);

  if (entry.dtype != null && entry.jax_enable_x64 != null && (entry.jax_enable_x64 ? 'float64' : 'float32') !== entry.dtype) {
    throw source.error([...at, 'dtype'], `dtype ${entry.dtype} contradicts jax_enable_x64: ${entry.jax_enable_x64}`);
  }
  const dtype: DType = ov.dtype ?? entry.dtype
    ?? (entry.jax_enable_x64 == null ? undefined : entry.jax_enable_x64 ? 'float64' : 'float32')
    ?? opts.defaultDtype ?? 'float64';

  const config: ResolvedTargetConfig = { model, data, teacher, training, seed: entry.seed, dtype };
  const sampling: TargetSamplingSettings = {};
  const posterior = dropNulls(deepMerge(entry.posterior ?? {}, ov.posterior ?? {}) as PosteriorSection);
  if (isPlainObject(posterior) && Object.keys(posterior).length > 0) sampling.posterior = posterior;
  const chains = dropNulls(deepMerge(entry.chains ?? {}, ov.chains ?? {}) as ChainsSection);
  if (isPlainObject(chains) && Object.keys(chains).length > 0) sampling.chains = chains;
  const burn = ov.burn_in ?? entry.burn_in;
  if (burn != null) sampling.burn_in = burn;
  return { config, sampling };
}

/**
 * Model/data/teacher may be written as a preset name; internally every section is a mapping
 * with an optional `preset` key, so `--set data.n=500` works on `data: small` too.
 */
export function normalizeTargetEntry(raw: unknown): unknown {
  if (!isPlainObject(raw)) return raw;
  const out: Record<string, unknown> = { ...raw };
  for (const k of ['model', 'data', 'teacher', 'training'] as const) {
    const v = out[k];
    if (typeof v === 'string') out[k] = { preset: v };
    else if (v === null && k === 'teacher') out[k] = { preset: '_null' };
  }
  return out;
}

/**
 * A target entry naming a model file: `model: {file, activation?, layers?, loss?}` and
 * `data: {file}`; paths are relative to the experiment file. The files are read and checked
 * here (plan time), so a bad file fails before anything runs.
 */
function resolveFileEntry(
  entry: TargetEntry,
  modelFile: string,
  source: ConfigSource,
  at: ConfigPath,
  opts: ResolveOptions,
): { config: ResolvedTargetConfig; sampling: TargetSamplingSettings } {
  const ov = entry.overrides ?? {};
  const m = { ...dropNulls(entry.model), ...dropNulls(ov.model ?? {}) } as Given<ModelSection>;
  const d = { ...dropNulls(entry.data), ...dropNulls(ov.data ?? {}) } as Given<DataSection>;
  const allowedModel = new Set(['file', 'activation', 'layers', 'loss']);
  const extra = Object.keys(m).filter((k) => !allowedModel.has(k));
  if (extra.length > 0) throw source.error([...at, 'model', extra[0]!], `a model file takes only file, activation, layers and loss, not ${extra.join(', ')}`);
  if (d.file == null) throw source.error([...at, 'data'], 'a model file needs its data: data: {file: data.npz}');
  const extraData = Object.keys(d).filter((k) => k !== 'file');
  if (extraData.length > 0) throw source.error([...at, 'data', extraData[0]!], `the data of a model file takes only file, not ${extraData.join(', ')}`);
  const base = source.file === undefined ? process.cwd() : dirname(source.file);
  const rel = (p: string): string => p.split(',').map((q) => resolvePath(base, q)).join(',');
  const dtype: DType = ov.dtype ?? entry.dtype ?? (entry.jax_enable_x64 == null ? undefined : entry.jax_enable_x64 ? 'float64' : 'float32') ?? opts.defaultDtype ?? 'float64';
  let resolved;
  try {
    resolved = resolveFileTarget({
      model: rel(modelFile),
      data: rel(d.file),
      dtype,
      ...(m.activation != null ? { activation: m.activation } : {}),
      ...(m.layers != null ? { layers: m.layers } : {}),
      ...(m.loss != null ? { loss: m.loss } : {}),
    });
  } catch (err) {
    throw source.error([...at, 'model', 'file'], (err as Error).message);
  }
  const sampling: TargetSamplingSettings = {};
  const posterior = dropNulls(deepMerge(entry.posterior ?? {}, ov.posterior ?? {}) as PosteriorSection);
  if (isPlainObject(posterior) && Object.keys(posterior).length > 0) sampling.posterior = posterior;
  const chains = dropNulls(deepMerge(entry.chains ?? {}, ov.chains ?? {}) as ChainsSection);
  if (isPlainObject(chains) && Object.keys(chains).length > 0) sampling.chains = chains;
  const burn = ov.burn_in ?? entry.burn_in;
  if (burn != null) sampling.burn_in = burn;
  return { config: resolved.config, sampling };
}
