/**
 * The messages between the chain runner and its worker threads (src/samplers/runner): the
 * worker's instructions (its chains of a run), what it reports back (each chain's preparation,
 * sampling progress and result), and the run's shared tuning sent to it. Structured-cloned, not
 * JSON: trace columns travel as typed arrays.
 */
import { z } from 'zod';
import { clonedObject, jsonObject } from './json.js';
import { chainFailure, chainSettings, posteriorSource } from './sampling.js';

const nonNegInt = z.number().int().nonnegative();

export const traceColumn = z.custom<Float64Array | Int32Array>(
  (v) => v instanceof Float64Array || v instanceof Int32Array,
  { message: 'expected a Float64Array or Int32Array trace column' },
);

/** One chain's traces and accounting. */
export const chainResult = z.strictObject({
  chain: nonNegInt,
  /** Trace columns of this chain (chain, draw, step, Ln, llc, cumulative_fge, time_s, ...). */
  columns: z.record(z.string(), traceColumn),
  tuned: clonedObject,
  tune_fge: z.number(),
  sample_fge: z.number(),
  /** Work of the L_n evaluations (1 per evaluation), not part of cumulative_fge. */
  eval_fge: z.number(),
  tune_time_s: z.number(),
  sample_time_s: z.number(),
  steps_done: nonNegInt,
  failure: chainFailure.nullable(),
  /** True when the chain ended at its time budget, before its schedule's last step. */
  stopped_by_budget: z.boolean(),
});
export type ChainResult = z.output<typeof chainResult>;

/**
 * Progress of one chain, at most every PROGRESS_INTERVAL_MS and at the end of each phase: its
 * tuning (work so far) or its sampling (steps done, running mean of its λ̂ draws, NaN before the
 * first). `elapsed_s` is the time the chain has spent in that phase.
 */
export const chainProgress = z.discriminatedUnion('phase', [
  z.strictObject({ phase: z.literal('tune'), chain: nonNegInt, fge: z.number(), elapsed_s: z.number() }),
  z.strictObject({
    phase: z.literal('sample'),
    chain: nonNegInt,
    step: nonNegInt,
    steps: nonNegInt,
    llcMean: z.number().or(z.nan()),
    elapsed_s: z.number(),
  }),
]);
export type ChainProgress = z.output<typeof chainProgress>;

/** What a chain worker is started with: which chains of which run it prepares and samples. */
export const chainWorkerInit = z.strictObject({
  source: posteriorSource,
  /** Sampler name or alias. */
  sampler: z.string(),
  /** The sampler's resolved config. */
  cfg: jsonObject,
  chains: chainSettings,
  seed: nonNegInt,
  /** This worker's chains, in the order it prepares and samples them. */
  chainIds: z.array(nonNegInt),
  /** Forward the chains' progress (tuning and sampling). */
  progress: z.boolean(),
  /** Unix ms by which sampling must end (a time budget), or null. */
  deadline_ms: z.number().nullable(),
});
export type ChainWorkerInit = z.output<typeof chainWorkerInit>;

/** From a chain worker to the runner. */
export const chainWorkerMessage = z.discriminatedUnion('type', [
  /** A chain is prepared (adapted): its tuned values, for the runner to pool when it shares them. */
  z.strictObject({ type: z.literal('prepared'), chain: nonNegInt, tuned: clonedObject }),
  z.strictObject({ type: z.literal('progress'), progress: chainProgress }),
  z.strictObject({ type: z.literal('result'), result: chainResult }),
  z.strictObject({ type: z.literal('error'), message: z.string(), stack: z.string().optional() }),
]);
export type ChainWorkerMessage = z.output<typeof chainWorkerMessage>;

/** From the runner to a chain worker: the run's pooled tuning (samplers that share it). */
export const chainWorkerShare = z.strictObject({ type: z.literal('share'), shared: clonedObject });
export type ChainWorkerShare = z.output<typeof chainWorkerShare>;
