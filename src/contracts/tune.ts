/**
 * Hyperparameter tuning (`workflow tune`): the trial task (one sampler run scored against a
 * reference) and the study file that records every finished trial, so an interrupted study
 * resumes with its finished trials reused.
 */
import { z } from 'zod';
import { jsonObject } from './json.js';
import { burnIn, chainsLayer, posteriorLayer, samplerEntry } from './sampling.js';

/**
 * One trial: sample a target with one sampler entry (the searched settings already in it) and
 * return the estimate and its cost. The run is content-addressed, so a trial whose run is
 * complete in the store costs nothing.
 */
export const trialTaskSpec = z.strictObject({
  kind: z.literal('trial'),
  home: z.string(),
  target_id: z.string(),
  sampler: samplerEntry,
  target_posterior: posteriorLayer.optional(),
  target_chains: chainsLayer.optional(),
  target_burn_in: burnIn.optional(),
});
export type TrialTaskSpec = z.output<typeof trialTaskSpec>;

const num = z.number();
const stat = z.number().nullable();

export const trialTaskResult = z.strictObject({
  run_id: z.string(),
  run_dir: z.string(),
  reused: z.boolean(),
  llc_mean: stat,
  llc_mcse: stat,
  r_hat: stat,
  /** Work of the run in full-gradient evaluations (every chain, tuning included). */
  total_fge: num,
  /** The sampler's own wall time (seconds), from the run's manifest. */
  walltime_s: num,
  n: z.number().int().positive(),
  beta: num,
  gamma: num,
  /** The step size the chains used, when the sampler has one (SGLD's calibrated or given step). */
  step_size: stat,
  warnings: z.array(z.string()),
});
export type TrialTaskResult = z.output<typeof trialTaskResult>;

export const TRIAL_STATES = ['complete', 'failed', 'timeout'] as const;
export type TrialState = (typeof TRIAL_STATES)[number];

/** What each problem's trials are scored against. */
export const studyReference = z.strictObject({
  kind: z.enum(['truth', 'hmc', 'value']),
  /** The reference λ (for the quadratic target's truth: at the problem's own posterior). */
  value: num,
  mcse: stat,
  source: z.string(),
  /** HMC: its run; null otherwise. */
  run_dir: z.string().nullable(),
  /** The quadratic target's exact λ depends on each trial's nβ and γ: scored per trial. */
  per_trial: z.boolean(),
});
export type StudyReference = z.output<typeof studyReference>;

export const trialRecord = z.strictObject({
  /** Position in the search of its (problem, method), from 0. */
  number: z.number().int().nonnegative(),
  problem: z.number().int().nonnegative(),
  method: z.string(),
  /** The searched values, under the study file's names. */
  params: jsonObject,
  /** The sampler entry the trial ran (the params mapped onto the sampler's settings). */
  sampler: samplerEntry,
  state: z.enum(TRIAL_STATES),
  /** The objective (|λ̂ - ref| or its Huber loss); null for a failed or timed-out trial. */
  value: stat,
  llc_mean: stat,
  llc_mcse: stat,
  reference: stat,
  abs_error: stat,
  rel_error: stat,
  total_fge: stat,
  walltime_s: stat,
  /** nβ of the trial's posterior and the step it used: the ε-β view. */
  nbeta: stat,
  step_size: stat,
  run_dir: z.string().nullable(),
  error: z.string().nullable(),
});
export type TrialRecord = z.output<typeof trialRecord>;

export const studyProblem = z.strictObject({
  index: z.number().int().nonnegative(),
  target_id: z.string(),
  label: z.string(),
  reference: studyReference.nullable(),
});
export type StudyProblem = z.output<typeof studyProblem>;

/** `<home>/studies/<name>-<id>/study.json`, rewritten atomically after every finished trial. */
export const studyFile = z.strictObject({
  version: z.literal(1),
  study_id: z.string(),
  name: z.string(),
  config_file: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  problems: z.array(studyProblem),
  trials: z.array(trialRecord),
});
export type StudyFile = z.output<typeof studyFile>;
