/**
 * Chain settings shared by every sampler, and helpers for sampler config schemas.
 *
 * `chains` may be a number (the chain count) or a mapping:
 *   {count: 4, init_noise: 0.01, burn_in: null, threads: 1}
 * - burn_in: steps discarded before recording (integer >= 1), or a fraction of the sampling
 *   steps (0 < x < 1); 0 keeps everything; null lets the sampler decide (its `warmup` key for
 *   SGLD, else half of the steps for step-based samplers, 0 for draw-based ones).
 * - threads: worker threads for the chains. It never changes the numbers (keys depend only on
 *   seed, chain and step), so it is not part of the run id.
 * Layers, later wins: defaults < target entry's `chains` < sampler entry's `chains`.
 */
import { z } from 'zod';

export const chainSettingsSchema = z
  .object({
    count: z.number().int().min(1).max(1024).default(4),
    init_noise: z.number().nonnegative().default(0.01),
    burn_in: z.number().nonnegative().nullable().default(null),
    threads: z.number().int().min(1).max(256).default(1),
  })
  .strict();
export type ChainSettings = z.infer<typeof chainSettingsSchema>;

function asLayer(layer: unknown): Record<string, unknown> | undefined {
  if (layer === undefined || layer === null) return undefined;
  if (typeof layer === 'number') return { count: layer };
  if (typeof layer === 'object' && !Array.isArray(layer)) {
    const l = { ...(layer as Record<string, unknown>) };
    // Accept the names people reach for first.
    for (const alias of ['n', 'num_chains', 'chains']) {
      if (alias in l && !('count' in l)) {
        l.count = l[alias];
        delete l[alias];
      }
    }
    return l;
  }
  throw new Error(`chains must be a number or a mapping, got ${JSON.stringify(layer)}`);
}

export function resolveChainSettings(...layers: unknown[]): ChainSettings {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) {
    const l = asLayer(layer);
    if (l) Object.assign(merged, l);
  }
  return chainSettingsSchema.parse(merged);
}

/** Burn-in in steps from a setting (steps, fraction or null) and the sampler's default. */
export function burnInSteps(setting: number | null, steps: number, samplerDefault: number): number {
  if (setting === null) return Math.min(steps, samplerDefault);
  if (setting > 0 && setting < 1) return Math.floor(setting * steps);
  if (!Number.isInteger(setting)) {
    throw new Error(`burn_in must be an integer number of steps or a fraction in (0, 1), got ${setting}`);
  }
  if (setting >= steps) {
    throw new Error(`burn_in (${setting}) must be smaller than the number of steps (${steps})`);
  }
  return setting;
}
