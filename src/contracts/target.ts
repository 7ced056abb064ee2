/**
 * The build stage's contract: the resolved target config a build task receives (what a target
 * is built from, and whose canonical JSON is hashed into its id), and the target's meta.json.
 */
import { z } from 'zod';
import { ACTIVATIONS, DTYPES, ENGINE_IMPLS } from '../engine/types.js';

/** Input distributions, label noise models, model families and training optimizers. */
export const X_DISTS = ['gauss_iso', 'gauss_aniso', 'mixture', 'lowdim_manifold', 'heavy_tail', 'uniform'] as const;
export const NOISE_MODELS = ['gauss', 'hetero', 'student_t', 'outliers'] as const;
export const MODEL_FAMILIES = ['mlp', 'dln', 'quadratic'] as const;
export const OPTIMIZERS = ['adam', 'sgd', 'adamw'] as const;

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();
const posNum = z.number().positive();
const finite = z.number();

export const dtype = z.enum(DTYPES);

export const lossSpec = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('mse') }),
  z.strictObject({ kind: z.literal('student_t'), nu: posNum, sigma: posNum }),
  z.strictObject({ kind: z.literal('cross_entropy') }),
]);

export const mlpModelConfig = z.strictObject({
  family: z.literal('mlp'),
  in_dim: posInt,
  out_dim: posInt,
  widths: z.array(posInt),
  activation: z.enum(ACTIVATIONS),
  bias: z.boolean(),
  layernorm: z.boolean(),
  /**
   * Initialisation of the student and of an MLP teacher: absent = He normal weights
   * (variance 2 / fan_in for relu and gelu, 1 / fan_in otherwise) and zero biases; `uniform` =
   * weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the default of Equinox's and
   * PyTorch's Linear layers and what the Python system's networks are built with.
   */
  init: z.enum(['uniform']).optional(),
});
export const dlnModelConfig = z.strictObject({
  family: z.literal('dln'),
  in_dim: posInt,
  out_dim: posInt,
  widths: z.array(posInt),
});
export const quadraticModelConfig = z.strictObject({ family: z.literal('quadratic'), dim: posInt });
export const modelConfig = z.discriminatedUnion('family', [mlpModelConfig, dlnModelConfig, quadraticModelConfig]);
export type MlpModelConfig = z.output<typeof mlpModelConfig>;
export type DlnModelConfig = z.output<typeof dlnModelConfig>;
export type QuadraticModelConfig = z.output<typeof quadraticModelConfig>;
export type ModelConfig = z.output<typeof modelConfig>;

export const dataConfig = z.strictObject({
  n: posInt,
  /** Absent for the quadratic target, which has no data, only n. */
  x_dist: z.enum(X_DISTS).optional(),
  cov_decay: finite.optional(),
  mixture_k: posInt.optional(),
  mixture_spread: finite.optional(),
  x_dim_latent: posInt.optional(),
  x_df: finite.optional(),
  uniform_low: finite.optional(),
  uniform_high: finite.optional(),
  noise_model: z.enum(NOISE_MODELS).optional(),
  noise_scale: finite.optional(),
  hetero_scale: finite.optional(),
  noise_df: finite.optional(),
  outlier_frac: finite.optional(),
  outlier_scale: finite.optional(),
});
export type DataConfig = z.output<typeof dataConfig>;

export const mlpTeacherConfig = z.strictObject({
  family: z.literal('mlp'),
  widths: z.array(posInt),
  activation: z.enum(ACTIVATIONS),
  bias: z.boolean(),
  dropout_rate: finite,
});
export const dlnTeacherConfig = z.strictObject({
  family: z.literal('dln'),
  widths: z.array(posInt),
  /** Rank of the product matrix W_L ... W_1 (every factor has this rank too). */
  rank: nonNegInt,
  dropout_rate: finite,
});
export const teacherConfig = z.discriminatedUnion('family', [mlpTeacherConfig, dlnTeacherConfig]);
export type MlpTeacherConfig = z.output<typeof mlpTeacherConfig>;
export type DlnTeacherConfig = z.output<typeof dlnTeacherConfig>;
export type TeacherConfig = z.output<typeof teacherConfig>;

export const randomInitTraining = z.strictObject({
  init: z.literal('random'),
  optimizer: z.enum(OPTIMIZERS),
  lr: posNum,
  steps: nonNegInt,
  beta1: finite.optional(),
  beta2: finite.optional(),
  eps: finite.optional(),
  weight_decay: finite.optional(),
  momentum: finite.optional(),
  /** false: always run all steps. */
  early_stop: z.union([z.strictObject({ window: posInt, tol: finite, after: nonNegInt }), z.literal(false)]),
  /** L-BFGS after the optimiser (absent in targets built before it existed: no polish). */
  polish: z.union([z.strictObject({ steps: nonNegInt, tol: finite }), z.literal(false)]).optional(),
  loss: lossSpec,
});
export const teacherInitTraining = z.strictObject({ init: z.literal('teacher'), loss: lossSpec });
/**
 * w* = the weights of a network trained elsewhere, on the data of a file: both files' paths and
 * contents (sha256) decide the target, and `modules` its layer order (source module names).
 */
export const fileInitTraining = z.strictObject({
  init: z.literal('file'),
  loss: lossSpec,
  model_file: z.string().min(1),
  model_sha256: z.string(),
  data_file: z.string().min(1),
  data_sha256: z.string(),
  modules: z.array(z.string()).min(1),
});
export const trainingConfig = z.discriminatedUnion('init', [randomInitTraining, teacherInitTraining, fileInitTraining]);
export type RandomInitTraining = z.output<typeof randomInitTraining>;
export type TeacherInitTraining = z.output<typeof teacherInitTraining>;
export type FileInitTraining = z.output<typeof fileInitTraining>;
export type TrainingConfig = z.output<typeof trainingConfig>;

/** Everything that determines a target's files; its canonical JSON is hashed into the id. */
export const resolvedTargetConfig = z.strictObject({
  model: modelConfig,
  data: dataConfig,
  /** null for the quadratic target. */
  teacher: teacherConfig.nullable(),
  training: trainingConfig.nullable(),
  seed: nonNegInt,
  dtype,
});
export type ResolvedTargetConfig = z.output<typeof resolvedTargetConfig>;

/** targets/<id>/meta.json. */
export const targetMeta = z.object({
  target_id: z.string(),
  config: resolvedTargetConfig,
  family: z.enum(MODEL_FAMILIES),
  dims: z.object({ n: posInt, in_dim: nonNegInt, out_dim: nonNegInt, p: posInt }),
  L0: finite,
  dtype,
  created_at: z.string(),
  code_version: z.string(),
  host: z.string(),
  engine_impl: z.enum(ENGINE_IMPLS).nullable(),
  training: z.object({
    init: z.enum(['random', 'teacher', 'exact', 'file']),
    optimizer: z.string().optional(),
    steps_max: nonNegInt.optional(),
    steps_run: nonNegInt,
    early_stopped: z.boolean(),
    initial_loss: finite.optional(),
    final_loss: finite,
    final_grad_norm: finite,
    wall_s: finite,
    loss_curve: z.object({ step: z.array(finite), loss: z.array(finite) }).optional(),
    /** The L-BFGS polish after the optimiser: its work and the gradient norm it started from. */
    polish: z.object({
      iterations: nonNegInt,
      evaluations: nonNegInt,
      grad_norm_before: finite,
      loss_before: finite,
      stopped: z.enum(['converged', 'max_iter', 'line_search', 'non_finite']),
    }).optional(),
  }),
  files: z.record(z.string(), z.object({ sha256: z.string(), bytes: nonNegInt })),
  /** Conditions a user should know before trusting an LLC estimated at this w*. */
  warnings: z.array(z.string()),
});
export type TargetMeta = z.output<typeof targetMeta>;
