/**
 * Schemas of the target side of an experiment: model, data, teacher and training sections
 * (as written in presets, inline mappings and overrides), and the experiment/build files.
 * Every object is strict so that a misspelt key is an error with a suggestion, never a
 * silently ignored setting. A key may be `null` wherever the Python system allowed it: null
 * means "the default", and in an override it unsets what a preset gave (resolve.ts drops
 * nulls after the layers are merged). The Python system's own key names are mapped onto these
 * before validation (python-compat.ts).
 *
 * Section schemas accept every key of every family; which keys a family needs is checked
 * when a target is resolved (resolve.ts), where the error can say why.
 */
import { z } from 'zod';
import { ACTIVATIONS, DTYPES } from '../engine/types.js';
// The vocabulary of a resolved target is the build stage's contract.
import { MODEL_FAMILIES, NOISE_MODELS, OPTIMIZERS, X_DISTS } from '../contracts/target.js';

/** Initialisations of an MLP student and teacher (see contracts/target.ts mlpModelConfig.init). */
export const MLP_INITS = ['he', 'uniform'] as const;
export { ACTIVATIONS, DTYPES, MODEL_FAMILIES, NOISE_MODELS, OPTIMIZERS, X_DISTS };

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();
const posNum = z.number().positive();
const nonNegNum = z.number().nonnegative();


export const modelSection = z.strictObject({
  preset: z.string().nullish(),
  family: z.enum(MODEL_FAMILIES).nullish(),
  in_dim: posInt.nullish(),
  out_dim: posInt.nullish(),
  depth: posInt.nullish(),
  target_params: posInt.nullish(),
  widths: z.array(posInt).nullish(),
  activation: z.enum(ACTIVATIONS).nullish(),
  bias: z.boolean().nullish(),
  layernorm: z.boolean().nullish(),
  /** Initialisation of the student and an MLP teacher: he (default) or uniform (Equinox's and PyTorch's Linear default). */
  init: z.enum(MLP_INITS).nullish(),
  /** Width of every hidden layer when neither widths nor target_params is given (the Python system's fallback). */
  hidden: posInt.nullish(),
  /** Quadratic family: the number of parameters. */
  dim: posInt.nullish(),
  /** A network trained elsewhere: its safetensors file (with `data: {file}`), as `lambda-hat llc --model`. */
  file: z.string().min(1).nullish(),
  /** Module names in layer order, for a model file whose tensor names do not give it. */
  layers: z.array(z.string().min(1)).nullish(),
  /** Loss of a model file: default cross_entropy for integer labels, else mse. */
  loss: z.enum(['mse', 'cross_entropy']).nullish(),
});
export type ModelSection = z.output<typeof modelSection>;

export const dataSection = z.strictObject({
  preset: z.string().nullish(),
  /** The data of a model file: .npz, X.npy,y.npy, .safetensors, .feather or .csv (as `llc --data`). */
  file: z.string().min(1).nullish(),
  n: posInt.nullish(),
  x_dist: z.enum(X_DISTS).nullish(),
  /** gauss_aniso: variance of coordinate i is cov_decay^i. */
  cov_decay: posNum.nullish(),
  mixture_k: posInt.nullish(),
  mixture_spread: nonNegNum.nullish(),
  /** lowdim_manifold: latent dimension of Z in X = tanh(Z A). */
  x_dim_latent: posInt.nullish(),
  /** heavy_tail inputs and student_t noise: degrees of freedom. */
  student_df: posNum.nullish(),
  uniform_low: z.number().nullish(),
  uniform_high: z.number().nullish(),
  noise_model: z.enum(NOISE_MODELS).nullish(),
  noise_scale: nonNegNum.nullish(),
  hetero_scale: nonNegNum.nullish(),
  outlier_frac: z.number().min(0).max(1).nullish(),
  outlier_scale: nonNegNum.nullish(),
});
export type DataSection = z.output<typeof dataSection>;

export const teacherSection = z.strictObject({
  preset: z.string().nullish(),
  /** mlp: its own network; dln: a deep linear teacher of exact rank. Default: the student's family. */
  family: z.enum(['mlp', 'dln']).nullish(),
  depth: posInt.nullish(),
  target_params: posInt.nullish(),
  widths: z.array(posInt).nullish(),
  activation: z.enum(ACTIVATIONS).nullish(),
  bias: z.boolean().nullish(),
  dropout_rate: z.number().min(0).lt(1).nullish(),
  rank: nonNegInt.nullish(),
  /** Width of every teacher layer when depth is given without widths or target_params (else the student's target_params, then its hidden). */
  hidden: posInt.nullish(),
});
export type TeacherSection = z.output<typeof teacherSection>;

export const earlyStopSection = z.strictObject({
  window: z.number().int().min(2).nullish(),
  tol: nonNegNum.nullish(),
  after: nonNegInt.nullish(),
  enabled: z.boolean().nullish(),
});

export const trainingSection = z.strictObject({
  preset: z.string().nullish(),
  optimizer: z.enum(OPTIMIZERS).nullish(),
  lr: posNum.nullish(),
  steps: nonNegInt.nullish(),
  beta1: z.number().min(0).lt(1).nullish(),
  beta2: z.number().min(0).lt(1).nullish(),
  eps: posNum.nullish(),
  weight_decay: nonNegNum.nullish(),
  momentum: z.number().min(0).lt(1).nullish(),
  early_stop: earlyStopSection.nullish(),
  /**
   * After the optimiser's steps, L-BFGS drives w* towards a critical point of L_n: at most
   * `steps` iterations, ending once |grad L_n| <= tol. false: w* is where the optimiser stopped.
   */
  polish: z.union([z.strictObject({ steps: nonNegInt.nullish(), tol: nonNegNum.nullish() }), z.literal(false)]).nullish(),
  loss: z.enum(['mse', 't_regression']).nullish(),
  loss_nu: posNum.nullish(),
  loss_sigma: posNum.nullish(),
  /** random: train from a random initialisation; teacher: w* = the teacher's parameters. */
  init: z.enum(['random', 'teacher']).nullish(),
});
export type TrainingSection = z.output<typeof trainingSection>;

export const posteriorSection = z.strictObject({
  beta0: posNum.nullish(),
  beta_mode: z.enum(['1_over_log_n', 'fixed']).nullish(),
  gamma: posNum.nullish(),
  prior_radius: nonNegNum.nullish(),
  /** Weight-restricted posterior: tensor-name prefixes to sample (the rest stay at w*). */
  restrict: z.array(z.string().min(1)).min(1).nullish(),
});
export type PosteriorSection = z.output<typeof posteriorSection>;

export const chainsSection = z.strictObject({
  count: posInt.nullish(),
  init_noise: nonNegNum.nullish(),
});
export type ChainsSection = z.output<typeof chainsSection>;

/** Recorded draws to discard per chain: an integer count, or a fraction in [0, 1). */
export const burnIn = z.number().nonnegative();

export const overridesSection = z.strictObject({
  model: modelSection.nullish(),
  data: dataSection.nullish(),
  teacher: teacherSection.nullish(),
  training: trainingSection.nullish(),
  posterior: posteriorSection.nullish(),
  chains: chainsSection.nullish(),
  burn_in: burnIn.nullish(),
  dtype: z.enum(DTYPES).nullish(),
});

/** One target entry (experiment `targets[i]`, or a whole build file). */
export const targetEntry = z.strictObject({
  model: modelSection,
  data: dataSection,
  teacher: teacherSection.optional(),
  seed: nonNegInt,
  training: trainingSection.nullish(),
  overrides: overridesSection.nullish(),
  dtype: z.enum(DTYPES).nullish(),
  jax_enable_x64: z.boolean().nullish(),
  posterior: posteriorSection.nullish(),
  chains: chainsSection.nullish(),
  burn_in: burnIn.nullish(),
});
export type TargetEntry = z.output<typeof targetEntry>;

export const samplerEntry = z.strictObject({
  name: z.string().min(1),
  /** Absent or null: derived from the experiment name and the entry's position (experiment.ts). */
  seed: nonNegInt.nullish(),
  overrides: z.record(z.string(), z.unknown()).nullish(),
  posterior: posteriorSection.nullish(),
  chains: chainsSection.nullish(),
  burn_in: burnIn.nullish(),
  /** Seconds the sample task may take; its chains then end cleanly with the draws they have. */
  time_budget: z.number().positive().nullish(),
  /** GFLOP per chain that sizes the default run lengths on large targets (null: none). */
  work_budget: z.number().positive().nullable().optional(),
});

/** The experiment name when a file gives none (the Python system's default). */
export const DEFAULT_EXPERIMENT = 'dev';

export const experimentFile = z.strictObject({
  experiment: z.string().min(1).nullish(),
  /** The artifact root (relative to the working directory) unless LAMBDA_HAT_HOME is set. */
  store_root: z.string().min(1).nullish(),
  jax_enable_x64: z.boolean().nullish(),
  dtype: z.enum(DTYPES).nullish(),
  targets: z.array(targetEntry).min(1),
  samplers: z.array(samplerEntry).default([]),
  /**
   * Seconds the whole workflow may take: after it no build or sample task starts, running
   * sample tasks end cleanly with the draws they have, and diagnose and report still run.
   */
  time_budget: z.number().positive().nullish(),
});
export type ExperimentFile = z.output<typeof experimentFile>;
