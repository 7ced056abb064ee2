/**
 * The samplers, one line each, and the aliases. A sampler declares itself (kernels/<name>.ts,
 * through defineSampler): its config schema, and its traits, which analysis and report read
 * instead of its name. An alias is a sampler plus fixed config values: `rmsprop_sgld` = `sgld`
 * with precond: rmsprop. The canonical name is what run ids and manifests record, so
 * `rmsprop_sgld` and `sgld --set precond=rmsprop` are the same run.
 */
import type { JsonObject } from '../contracts/index.js';
import type { Sampler, SamplerTraits } from './sampler.js';
import { sampler as sgld } from './kernels/sgld.js';
import { sampler as sgnht } from './kernels/sgnht.js';
import { sampler as hmc } from './kernels/hmc.js';
import { sampler as mclmc } from './kernels/mclmc.js';
import { sampler as vi } from './kernels/vi.js';
import { sampler as mala } from './kernels/mala.js';

const SAMPLERS: readonly Sampler[] = [sgld, sgnht, hmc, mclmc, vi, mala];

const ALIASES: Readonly<Record<string, { of: Sampler; fixed: JsonObject }>> = {
  rmsprop_sgld: { of: sgld, fixed: { precond: 'rmsprop' } },
  adam_sgld: { of: sgld, fixed: { precond: 'adam' } },
};

const BY_NAME: ReadonlyMap<string, { sampler: Sampler; fixed: JsonObject }> = new Map([
  ...SAMPLERS.map((s) => [s.name, { sampler: s, fixed: {} }] as const),
  ...Object.entries(ALIASES).map(([name, a]) => [name, { sampler: a.of, fixed: a.fixed }] as const),
]);

/** Every sampler name, aliases included. */
export function samplerNames(): string[] {
  return [...BY_NAME.keys()];
}

export class UnknownSamplerError extends Error {
  constructor(name: string) {
    super(`unknown sampler "${name}"; valid samplers: ${samplerNames().join(', ')}`);
    this.name = 'UnknownSamplerError';
  }
}

export interface LoadedSampler {
  /** The name asked for (possibly an alias). */
  requested: string;
  sampler: Sampler;
  /** Config values the alias fixes. */
  fixed: JsonObject;
}

export function loadSampler(name: string): LoadedSampler {
  const entry = BY_NAME.get(name);
  if (!entry) throw new UnknownSamplerError(name);
  return { requested: name, sampler: entry.sampler, fixed: { ...entry.fixed } };
}

/** What a sampler (or alias) declares about its estimates; undefined for a name this version does not know. */
export function samplerTraits(name: string): SamplerTraits | undefined {
  return BY_NAME.get(name)?.sampler.traits;
}

/**
 * Validates a sampler's overrides against its schema, with an alias's fixed values applied.
 * Errors name the sampler and the offending key.
 */
export function resolveSamplerConfig(loaded: LoadedSampler, overrides: Readonly<Record<string, unknown>> = {}): JsonObject {
  for (const [k, v] of Object.entries(loaded.fixed)) {
    if (k in overrides && overrides[k] !== v) {
      throw new Error(`sampler "${loaded.requested}" fixes ${k} = ${JSON.stringify(v)}; got ${JSON.stringify(overrides[k])}`);
    }
  }
  try {
    return loaded.sampler.parseConfig({ ...overrides, ...loaded.fixed });
  } catch (err) {
    throw new Error((err as Error).message.replace(`sampler "${loaded.sampler.name}"`, `sampler "${loaded.requested}"`));
  }
}
