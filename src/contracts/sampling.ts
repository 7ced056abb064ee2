/**
 * What the sample stage receives: a sampler entry of an experiment, the posterior and chain
 * settings (as layers from the target and sampler entries, and resolved), and the
 * serialisable description of a posterior that worker threads rebuild it from.
 */
import { z } from 'zod';
import { jsonObject } from './json.js';
import { ENGINE_IMPLS } from '../engine/types.js';

const nonNegInt = z.number().int().nonnegative();

export const BETA_MODES = ['1_over_log_n', 'fixed'] as const;
export type BetaMode = (typeof BETA_MODES)[number];

/** The `posterior` block of a config, resolved (snake_case as in the Python system). */
export const posteriorSettings = z
  .object({
    beta0: z.number().positive().default(1),
    beta_mode: z.enum(BETA_MODES).default('1_over_log_n'),
    gamma: z.number().positive().default(1),
    /** When > 0, gamma = d / prior_radius^2 (overrides gamma). null or 0: off. */
    prior_radius: z.number().nonnegative().nullable().default(null),
    /**
     * Weight-restricted posterior: only the tensors whose names start with one of these
     * prefixes (`2` = module 2's weight and bias, `2.weight` = that tensor) are sampled; every
     * other parameter stays at w*. Absent: all parameters.
     */
    restrict: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();
export type PosteriorSettings = z.output<typeof posteriorSettings>;

/** One layer of posterior settings (a target's or a sampler's `posterior` block). */
export const posteriorLayer = z.strictObject({
  beta0: z.number().positive().optional(),
  beta_mode: z.enum(BETA_MODES).optional(),
  gamma: z.number().positive().optional(),
  prior_radius: z.number().nonnegative().nullable().optional(),
  restrict: z.array(z.string().min(1)).min(1).optional(),
});
export type PosteriorLayer = z.output<typeof posteriorLayer>;

/**
 * Burn-in: steps discarded before recording (an integer >= 1), or a fraction of the sampling
 * steps (0 < x < 1); 0 keeps everything.
 */
export const burnIn = z.number().nonnegative();

/**
 * Chain settings shared by every sampler:
 * - burn_in: as `burnIn`, or null to let the sampler decide (its `warmup` key for SGLD, else
 *   half of the steps for step-based samplers, 0 for draw-based ones).
 * - threads: worker threads for the chains. It never changes the numbers (keys depend only on
 *   seed, chain and step), so it is not part of the run id.
 */
export const chainSettings = z
  .object({
    count: z.number().int().min(1).max(1024).default(4),
    init_noise: z.number().nonnegative().default(0.01),
    burn_in: burnIn.nullable().default(null),
    threads: z.number().int().min(1).max(256).default(1),
  })
  .strict();
export type ChainSettings = z.output<typeof chainSettings>;

/** One layer of chain settings (a target's or a sampler's `chains` block). */
export const chainsLayer = z.strictObject({
  count: z.number().int().min(1).max(1024).optional(),
  init_noise: z.number().nonnegative().optional(),
  burn_in: burnIn.nullable().optional(),
  threads: z.number().int().min(1).max(256).optional(),
});
export type ChainsLayer = z.output<typeof chainsLayer>;

/**
 * One sampler entry of an experiment: the sampler (name or alias), its seed, its config
 * overrides (validated by the sampler's own schema when the run is resolved), and its
 * posterior, chain and burn-in settings, which win over the target entry's.
 */
export const samplerEntry = z.strictObject({
  name: z.string().min(1),
  seed: nonNegInt,
  overrides: jsonObject.optional(),
  posterior: posteriorLayer.optional(),
  chains: chainsLayer.optional(),
  burn_in: burnIn.optional(),
  /**
   * Seconds the sample task may take (tuning and sampling): the chains end cleanly when it is
   * spent, keeping their draws, and the run is marked as cut short. Part of the run id.
   */
  time_budget: z.number().positive().optional(),
  /**
   * Work per chain, in GFLOP (a network's loss and gradient on n rows ~ 6 n d flops), that sizes
   * the run lengths the entry leaves at their defaults (null: none). Deterministic; part of the
   * run id through the lengths it sets.
   */
  work_budget: z.number().positive().nullable().optional(),
});
export type SamplerEntry = z.output<typeof samplerEntry>;

/** A chain that stopped early: where and why. */
export const chainFailure = z.strictObject({
  chain: nonNegInt,
  step: nonNegInt,
  reason: z.string(),
});
export type ChainFailure = z.output<typeof chainFailure>;

/**
 * A serialisable description of a posterior, so that a worker thread or process can rebuild
 * it (closures do not cross threads): a stored target, or the analytic quadratic.
 */
export const posteriorSource = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('target'),
    home: z.string(),
    target_id: z.string(),
    posterior: posteriorSettings,
    /** Engine implementation for the target's network (default: the engine's default). */
    impl: z.enum(ENGINE_IMPLS).optional(),
  }),
  z.strictObject({
    kind: z.literal('quadratic'),
    /** L(w) = 0.5 sum_i c_i (w_i - centre_i)^2 with w* = centre. */
    centre: z.array(z.number()),
    curvature: z.array(z.number()).optional(),
    n: z.number().int().positive(),
    posterior: posteriorSettings,
  }),
]);
export type PosteriorSource = z.output<typeof posteriorSource>;
