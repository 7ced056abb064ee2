/**
 * The validation suite's messages to and from a case's child process (`validate --threads`):
 * the case to run and its result row.
 */
import { z } from 'zod';

const caseSpecCommon = {
  name: z.string(),
  sampler: z.string(),
  overrides: z.record(z.string(), z.unknown()),
  chains: z.number().int().min(1),
  seed: z.number().int(),
  impl: z.enum(['ts', 'wasm', 'native']).optional(),
};

/** A deep linear network at its teacher (validate --suite dln-wide). */
export const dlnCaseJob = z.object({
  kind: z.literal('dln'),
  widths: z.array(z.number().int().min(1)).min(2),
  rank: z.number().int().min(0),
  n: z.number().int().min(1),
  teacherSeed: z.number().int(),
  /** Gaussian layers with the first cut to rank r (absent), or balanced layers Q_k D_k Q_{k-1}^T. */
  teacher: z.enum(['gaussian', 'balanced']).optional(),
  /** Factor on every teacher layer (dln-wide: makes the teacher's rank, and every layer's share of it, visible at n). */
  teacherScale: z.number().positive().optional(),
  dataSeed: z.number().int(),
  ...caseSpecCommon,
}).strict();

/** A known-answer singular target (validate --suite singular); `target` is its config. */
export const singularCaseJob = z.object({
  kind: z.literal('singular'),
  target: z.record(z.string(), z.unknown()),
  n: z.number().int().min(1),
  dataSeed: z.number().int(),
  ...caseSpecCommon,
}).strict();

export const validationCaseJob = z.discriminatedUnion('kind', [dlnCaseJob, singularCaseJob]);
export type ValidationCaseJob = z.infer<typeof validationCaseJob>;

/** A number that may be NaN (a diverged case); the child sends with advanced serialisation. */
const num = z.union([z.number(), z.nan()]);

export const validationCaseResult = z.object({
  case: z.string(),
  kind: z.enum(['identity', 'exact', 'aoyagi', 'regular', 'known']),
  sampler: z.string().optional(),
  d: num,
  n: num,
  lambda_hat: num,
  truth: num,
  rel_error: num,
  mcse: num.nullable(),
  z: num.nullable(),
  tolerance: num.nullable().optional(),
  pass: z.boolean(),
  per_chain: z.array(num),
  step_sizes: z.array(num),
  note: z.string().optional(),
  total_fge: num,
  wall_s: num,
  cpu_s: num,
});

export const validationCaseReply = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), result: validationCaseResult }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
export type DlnCaseJob = z.infer<typeof dlnCaseJob>;
export type SingularCaseJob = z.infer<typeof singularCaseJob>;
export type ValidationCaseResult = z.infer<typeof validationCaseResult>;
