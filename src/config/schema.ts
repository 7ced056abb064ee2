/**
 * Schemas of the target side of an experiment: model, data, teacher and training sections
 * (as written in presets, inline mappings and overrides), and the experiment/build files.
 * Every object is strict so that a misspelt key is an error with a suggestion, never a
 * silently ignored setting.
 *
 * Section schemas accept every key of every family; which keys a family needs is checked
 * when a target is resolved (resolve.ts), where the error can say why.
 */
import { z } from 'zod';
import { ACTIVATIONS, DTYPES } from '../engine/types.js';
// The vocabulary of a resolved target is the build stage's contract.
import { MODEL_FAMILIES, NOISE_MODELS, OPTIMIZERS, X_DISTS } from '../contracts/target.js';

export { ACTIVATIONS, DTYPES, MODEL_FAMILIES, NOISE_MODELS, OPTIMIZERS, X_DISTS };

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();
const posNum = z.number().positive();
const nonNegNum = z.number().nonnegative();


export const modelSection = z.strictObject({
  preset: z.string().optional(),
  family: z.enum(MODEL_FAMILIES).optional(),
  in_dim: posInt.optional(),
  out_dim: posInt.optional(),
  depth: posInt.optional(),
  target_params: posInt.optional(),
  widths: z.array(posInt).optional(),
  activation: z.enum(ACTIVATIONS).optional(),
  bias: z.boolean().optional(),
  layernorm: z.boolean().optional(),
  /** Quadratic family: the number of parameters. */
  dim: posInt.optional(),
});
export type ModelSection = z.output<typeof modelSection>;

export const dataSection = z.strictObject({
  preset: z.string().optional(),
  n: posInt.optional(),
  x_dist: z.enum(X_DISTS).optional(),
  /** gauss_aniso: variance of coordinate i is cov_decay^i. */
  cov_decay: posNum.optional(),
  mixture_k: posInt.optional(),
  mixture_spread: nonNegNum.optional(),
  /** lowdim_manifold: latent dimension of Z in X = tanh(Z A). */
  x_dim_latent: posInt.optional(),
  /** heavy_tail inputs and student_t noise: degrees of freedom. */
  student_df: posNum.optional(),
  uniform_low: z.number().optional(),
  uniform_high: z.number().optional(),
  noise_model: z.enum(NOISE_MODELS).optional(),
  noise_scale: nonNegNum.optional(),
  hetero_scale: nonNegNum.optional(),
  outlier_frac: z.number().min(0).max(1).optional(),
  outlier_scale: nonNegNum.optional(),
});
export type DataSection = z.output<typeof dataSection>;

export const teacherSection = z.strictObject({
  preset: z.string().optional(),
  /** mlp: its own network; dln: a deep linear teacher of exact rank. Default: the student's family. */
  family: z.enum(['mlp', 'dln']).optional(),
  depth: posInt.optional(),
  target_params: posInt.optional(),
  widths: z.array(posInt).optional(),
  activation: z.enum(ACTIVATIONS).optional(),
  bias: z.boolean().optional(),
  dropout_rate: z.number().min(0).lt(1).optional(),
  rank: nonNegInt.optional(),
});
export type TeacherSection = z.output<typeof teacherSection>;

export const earlyStopSection = z.strictObject({
  window: z.number().int().min(2).optional(),
  tol: nonNegNum.optional(),
  after: nonNegInt.optional(),
  enabled: z.boolean().optional(),
});

export const trainingSection = z.strictObject({
  preset: z.string().optional(),
  optimizer: z.enum(OPTIMIZERS).optional(),
  lr: posNum.optional(),
  steps: nonNegInt.optional(),
  beta1: z.number().min(0).lt(1).optional(),
  beta2: z.number().min(0).lt(1).optional(),
  eps: posNum.optional(),
  weight_decay: nonNegNum.optional(),
  momentum: z.number().min(0).lt(1).optional(),
  early_stop: earlyStopSection.optional(),
  loss: z.enum(['mse', 't_regression']).optional(),
  loss_nu: posNum.optional(),
  loss_sigma: posNum.optional(),
  /** random: train from a random initialisation; teacher: w* = the teacher's parameters. */
  init: z.enum(['random', 'teacher']).optional(),
});
export type TrainingSection = z.output<typeof trainingSection>;

export const posteriorSection = z.strictObject({
  beta0: posNum.optional(),
  beta_mode: z.enum(['1_over_log_n', 'fixed']).optional(),
  gamma: posNum.optional(),
  prior_radius: nonNegNum.optional(),
});
export type PosteriorSection = z.output<typeof posteriorSection>;

export const chainsSection = z.strictObject({
  count: posInt.optional(),
  init_noise: nonNegNum.optional(),
});
export type ChainsSection = z.output<typeof chainsSection>;

/** Recorded draws to discard per chain: an integer count, or a fraction in [0, 1). */
export const burnIn = z.number().nonnegative();

export const overridesSection = z.strictObject({
  model: modelSection.optional(),
  data: dataSection.optional(),
  teacher: teacherSection.optional(),
  training: trainingSection.optional(),
  posterior: posteriorSection.optional(),
  chains: chainsSection.optional(),
  burn_in: burnIn.optional(),
  dtype: z.enum(DTYPES).optional(),
});

/** One target entry (experiment `targets[i]`, or a whole build file). */
export const targetEntry = z.strictObject({
  model: modelSection,
  data: dataSection,
  teacher: teacherSection.optional(),
  seed: nonNegInt,
  training: trainingSection.optional(),
  overrides: overridesSection.optional(),
  dtype: z.enum(DTYPES).optional(),
  jax_enable_x64: z.boolean().optional(),
  posterior: posteriorSection.optional(),
  chains: chainsSection.optional(),
  burn_in: burnIn.optional(),
});
export type TargetEntry = z.output<typeof targetEntry>;

export const samplerEntry = z.strictObject({
  name: z.string().min(1),
  seed: nonNegInt,
  overrides: z.record(z.string(), z.unknown()).optional(),
  posterior: posteriorSection.optional(),
  chains: chainsSection.optional(),
  burn_in: burnIn.optional(),
});

export const experimentFile = z.strictObject({
  experiment: z.string().min(1),
  jax_enable_x64: z.boolean().optional(),
  dtype: z.enum(DTYPES).optional(),
  targets: z.array(targetEntry).min(1),
  samplers: z.array(samplerEntry).default([]),
});
export type ExperimentFile = z.output<typeof experimentFile>;
