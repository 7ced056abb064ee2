/**
 * Plan-time validation: every sampler entry of an experiment, merged with its target's
 * posterior and chain settings, is resolved exactly as the sample task will resolve it, before
 * the first task starts. A config error therefore never reaches a worker and is never retried,
 * and it names the file, the line and the key: the line of the key inside the sampler's
 * `overrides` (or of the Python key it was mapped from), not just the entry.
 *
 * The targets were already resolved when the experiment was loaded (config/experiment.ts).
 */
import { ConfigError, ConfigSource, knownKeysAt, nearestKey, type ConfigPath } from '../config/load.js';
import type { LoadedExperiment, SamplerOrigin } from '../config/experiment.js';
import { pythonSamplerKeys } from '../config/python-compat.js';
import { loadSampler, samplerNames, UnknownSamplerError, type LoadedSampler } from '../samplers/registry.js';
import { resolveSchedule } from '../samplers/runner/chain.js';
import type { Schedule } from '../samplers/sampler.js';
import type { ResolvedSampleSpec } from '../tasks/sample.js';
import type { SampleTaskSpec, SamplerEntry } from '../contracts/index.js';

/** One target x sampler pair as the sample task will run it. */
export interface ValidatedPair {
  target_index: number;
  sampler_index: number;
  /** Run id, resolved sampler config, seed, posterior and chain settings. */
  resolved: ResolvedSampleSpec;
  /** Kernel steps, burn-in and recording interval (SGLD with steps: auto: provisional). */
  schedule: Schedule;
  /** The sample task's spec (as planWorkflow makes it). */
  spec: SampleTaskSpec;
}

export interface ValidatedExperiment {
  pairs: ValidatedPair[];
}

interface IssueLike {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
  values?: unknown[];
}

function sourceOf(exp: LoadedExperiment): ConfigSource {
  return exp.origin?.source ?? new ConfigSource(undefined);
}

function originOf(exp: LoadedExperiment, j: number): SamplerOrigin {
  return exp.origin?.samplers[j] ?? { path: ['samplers', j], mapped: new Map(), seed: 'file' };
}

/** A located error for key `key` of the entry's overrides (or the Python key it came from). */
function overrideError(source: ConfigSource, origin: SamplerOrigin, key: string, message: string, hint?: string): ConfigError {
  const from = origin.mapped.get(`overrides.${key}`);
  if (from !== undefined) {
    const pythonKey = String(from[from.length - 1]);
    return source.error(from.slice(0, -1), `(${key} here) ${message}`, hint, pythonKey);
  }
  return source.error([...origin.path, 'overrides'], message, hint, key);
}

function describe(issue: IssueLike): string {
  if (issue.code === 'invalid_value' && issue.values) return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return issue.message.replace(/^Invalid input: /, '');
}

/** The sampler's config schema applied to the entry's overrides, errors located. */
function checkOverrides(loaded: LoadedSampler, entry: SamplerEntry, source: ConfigSource, origin: SamplerOrigin): void {
  const overrides = entry.overrides ?? {};
  for (const [k, v] of Object.entries(loaded.fixed)) {
    if (k in overrides && overrides[k] !== v) {
      throw overrideError(source, origin, k, `sampler '${entry.name}' fixes ${k} = ${JSON.stringify(v)}; got ${JSON.stringify(overrides[k])}`,
        `drop ${k}, or use sampler ${loaded.sampler.name}`);
    }
  }
  const parsed = loaded.sampler.schema.safeParse({ ...overrides, ...loaded.fixed });
  if (parsed.success) return;
  const issues = [...(parsed.error.issues as unknown as IssueLike[])].sort(
    (a, b) => (a.code === 'unrecognized_keys' ? 0 : 1) - (b.code === 'unrecognized_keys' ? 0 : 1),
  );
  const issue = issues[0]!;
  if (issue.code === 'unrecognized_keys' && issue.keys && issue.keys.length > 0) {
    const bad = issue.keys[0]!;
    const ours = knownKeysAt(loaded.sampler.schema, []);
    const near = nearestKey(bad, [...ours, ...pythonSamplerKeys(loaded.sampler.name)]);
    const hint = near !== undefined ? `did you mean '${near}'?` : `${loaded.sampler.name} keys: ${ours.sort().join(', ')}`;
    throw source.error([...origin.path, 'overrides'], `unknown key '${bad}' for sampler ${entry.name}`, hint, bad);
  }
  const key = issue.path.length > 0 ? String(issue.path[0]) : undefined;
  if (key === undefined) throw source.error([...origin.path, 'overrides'], describe(issue));
  throw overrideError(source, origin, key, describe(issue));
}

async function loadLocated(entry: SamplerEntry, source: ConfigSource, origin: SamplerOrigin): Promise<LoadedSampler> {
  try {
    return loadSampler(entry.name);
  } catch (err) {
    if (!(err instanceof UnknownSamplerError)) throw err;
    const near = nearestKey(entry.name, samplerNames());
    throw source.error(origin.path, `unknown sampler '${entry.name}'`,
      `${near !== undefined ? `did you mean '${near}'? ` : ''}samplers: ${samplerNames().join(', ')}`, 'name');
  }
}

/** The sample task's spec for a target x sampler pair, as planWorkflow builds it. */
export function sampleSpecOf(exp: LoadedExperiment, targetIndex: number, samplerIndex: number, home: string): SampleTaskSpec {
  const t = exp.targets[targetIndex]!;
  const s = exp.samplers[samplerIndex]!;
  return {
    kind: 'sample',
    home,
    target_id: t.target_id,
    sampler: s,
    ...(t.posterior ? { target_posterior: t.posterior } : {}),
    ...(t.chains ? { target_chains: t.chains } : {}),
    ...(t.burn_in !== undefined ? { target_burn_in: t.burn_in } : {}),
  };
}

/**
 * Resolves every target x sampler pair as the sample task would; throws a located ConfigError
 * for the first setting that cannot run. `home` only enters the specs (nothing is read).
 */
export async function validateExperiment(exp: LoadedExperiment, home = ''): Promise<ValidatedExperiment> {
  const source = sourceOf(exp);
  const loaded: LoadedSampler[] = [];
  for (const [j, entry] of exp.samplers.entries()) {
    const origin = originOf(exp, j);
    const l = await loadLocated(entry, source, origin);
    checkOverrides(l, entry, source, origin);
    loaded.push(l);
  }
  // The sample task's own resolution (run id, posterior, chains), loaded once the entries passed.
  const { resolveSampleSpec } = await import('../tasks/sample.js');
  const pairs: ValidatedPair[] = [];
  for (const t of exp.targets) {
    for (const [j, entry] of exp.samplers.entries()) {
      const origin = originOf(exp, j);
      const spec = sampleSpecOf(exp, t.index, j, home);
      const at: ConfigPath = origin.path;
      let resolved: ResolvedSampleSpec;
      try {
        resolved = await resolveSampleSpec(spec);
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        throw source.error(at, `with target ${t.index} (${t.target_id}): ${firstLine(err)}`, 'check this entry\'s posterior, chains and burn_in, and the target\'s');
      }
      let schedule: Schedule;
      try {
        schedule = resolveSchedule(loaded[j]!.sampler.configure(resolved.config), resolved.chains);
      } catch (err) {
        const key = entry.overrides && Object.keys(entry.overrides).length > 0 ? 'overrides' : 'name';
        throw source.error(at, `with target ${t.index}: ${firstLine(err)}`, undefined, key);
      }
      pairs.push({ target_index: t.index, sampler_index: j, resolved, schedule, spec });
    }
  }
  return { pairs };
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // zod errors are JSON arrays of issues; show the first one's path and message.
  try {
    const issues = JSON.parse(msg) as Array<{ path?: unknown[]; message?: string }>;
    if (Array.isArray(issues) && issues[0]?.message) return `${(issues[0].path ?? []).join('.')}: ${issues[0].message}`;
  } catch {
    // not JSON
  }
  return msg.split('\n')[0]!;
}
