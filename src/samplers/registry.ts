/**
 * Sampler names -> modules, loaded lazily (so a sampler module that is not built yet breaks
 * only its own name). Each module exports `sampler: SamplerDef` (see runner.ts for the API).
 * Aliases are a module plus fixed config values: `rmsprop_sgld` = `sgld` with
 * precond: rmsprop. The canonical name (def.name) is what run ids and manifests record, so
 * `rmsprop_sgld` and `sgld --set precond=rmsprop` are the same run.
 */
import type { SamplerDef } from './runner/chain.js';
import { jsonObject, parseContract, type JsonObject } from '../contracts/index.js';
import { sampler as sgldSampler } from './kernels/sgld.js';
import { sampler as sgnhtSampler } from './kernels/sgnht.js';

// Samplers of this module's author are imported statically: a TypeScript loader in worker
// threads (tsx) does not hook dynamic import(), and tests run chains in workers.
const STATIC: Readonly<Record<string, unknown>> = Object.freeze({
  './kernels/sgld.js': { sampler: sgldSampler },
  './kernels/sgnht.js': { sampler: sgnhtSampler },
});

interface RegistryEntry {
  module: string;
  /** Export name inside the module (default `sampler`). */
  export?: string;
  /** Config values an alias fixes; the user's overrides cannot contradict them. */
  fixed?: Record<string, unknown>;
}

const REGISTRY: Readonly<Record<string, RegistryEntry>> = Object.freeze({
  sgld: { module: './kernels/sgld.js' },
  rmsprop_sgld: { module: './kernels/sgld.js', fixed: { precond: 'rmsprop' } },
  adam_sgld: { module: './kernels/sgld.js', fixed: { precond: 'adam' } },
  sgnht: { module: './kernels/sgnht.js' },
  hmc: { module: './hmc.js' },
  mclmc: { module: './mclmc.js' },
  vi: { module: './kernels/vi.js' },
});

export function samplerNames(): string[] {
  return Object.keys(REGISTRY);
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
  def: SamplerDef<Record<string, unknown>>;
  fixed: Record<string, unknown>;
}

export async function loadSampler(name: string): Promise<LoadedSampler> {
  const entry = Object.hasOwn(REGISTRY, name) ? REGISTRY[name] : undefined;
  if (!entry) throw new UnknownSamplerError(name);
  let mod: Record<string, unknown>;
  if (Object.hasOwn(STATIC, entry.module)) mod = STATIC[entry.module] as Record<string, unknown>;
  else try {
    // A variable specifier: the module may not exist yet while samplers are being written.
    // Under a TypeScript loader (tsx workers, vitest) the sources are .ts files.
    const spec: string = import.meta.url.endsWith('.ts') ? entry.module.replace(/\.js$/, '.ts') : entry.module;
    mod = (await import(spec)) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`sampler "${name}" is not available: ${(err as Error).message}`);
  }
  const def = mod[entry.export ?? 'sampler'] as SamplerDef<Record<string, unknown>> | undefined;
  if (!def || typeof def.prepare !== 'function') {
    throw new Error(`sampler module ${entry.module} does not export a SamplerDef named "${entry.export ?? 'sampler'}"`);
  }
  return { requested: name, def, fixed: { ...(entry.fixed ?? {}) } };
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
  const parsed = loaded.def.schema.safeParse({ ...overrides, ...loaded.fixed });
  if (!parsed.success) {
    const msg = parsed.error.issues
      .map((i) => `${i.path.length ? i.path.join('.') : '(config)'}: ${i.message}`)
      .join('; ');
    throw new Error(`invalid config for sampler "${loaded.requested}": ${msg}`);
  }
  return parseContract(jsonObject, parsed.data, `sampler "${loaded.requested}"`, 'sampler config (JSON values only)');
}
