/**
 * Experiment files (the Python system's schema plus dtype, posterior, chains and burn_in) and
 * build files (one target entry). Loading resolves every target, so a bad preset name or an
 * inconsistent architecture fails here, before any task runs.
 */
import { contentId } from '../store/index.js';
import type { DType } from '../engine/types.js';
import { parseContract, samplerEntry, type SamplerEntry } from '../contracts/index.js';
import { ConfigSource, isPlainObject, loadConfigFile, validateConfig } from './load.js';
import {
  normalizeTargetEntry,
  resolveTargetEntry,
  type ResolvedTargetConfig,
  type TargetSamplingSettings,
} from './resolve.js';
import { experimentFile, targetEntry, type PosteriorSection, type ChainsSection } from './schema.js';

export interface ResolvedTarget {
  /** Position in the experiment's `targets` list. */
  index: number;
  target_id: string;
  /** What the target is built from: pass it as BuildTaskSpec.target. */
  config: ResolvedTargetConfig;
  posterior?: PosteriorSection;
  chains?: ChainsSection;
  burn_in?: number;
}

export interface LoadedExperiment {
  experiment: string;
  dtype: DType;
  targets: ResolvedTarget[];
  samplers: SamplerEntry[];
}

export interface LoadOptions {
  presetsDir?: string;
}

/** The id of a resolved target config: "tgt_" + 12 hex digits of sha256(canonical JSON). */
export function targetIdOf(config: ResolvedTargetConfig): string {
  return contentId('tgt', config);
}

function normalizeExperiment(raw: unknown): unknown {
  if (!isPlainObject(raw) || !Array.isArray(raw.targets)) return raw;
  return { ...raw, targets: raw.targets.map(normalizeTargetEntry) };
}

function experimentDtype(file: { dtype?: DType; jax_enable_x64?: boolean }, source: ConfigSource): DType {
  const fromFlag: DType | undefined = file.jax_enable_x64 === undefined ? undefined : file.jax_enable_x64 ? 'float64' : 'float32';
  if (file.dtype !== undefined && fromFlag !== undefined && file.dtype !== fromFlag) {
    throw source.error(['dtype'], `dtype ${file.dtype} contradicts jax_enable_x64: ${String(file.jax_enable_x64)}`, 'keep one of them');
  }
  return file.dtype ?? fromFlag ?? 'float64';
}

/**
 * Loads an experiment file, applies `--set` overrides (paths as in the file, e.g.
 * `targets.0.seed=7` or `samplers.1.overrides.draws=100`) and resolves every target.
 */
export function loadExperiment(path: string, sets: ReadonlyArray<string> = [], opts: LoadOptions = {}): LoadedExperiment {
  const { value: file, source } = loadConfigFile(path, experimentFile, sets, normalizeExperiment);
  const dtype = experimentDtype(file, source);
  const targets = file.targets.map((entry, index): ResolvedTarget => {
    const { config, sampling } = resolveTargetEntry(entry, source, ['targets', index], {
      defaultDtype: dtype,
      presetsDir: opts.presetsDir,
    });
    return { index, target_id: targetIdOf(config), config, ...sampling };
  });
  const samplers = file.samplers.map((s, i): SamplerEntry => {
    const out: Record<string, unknown> = { name: s.name, seed: s.seed, overrides: s.overrides ?? {} };
    if (s.posterior) out.posterior = s.posterior;
    if (s.chains) out.chains = s.chains;
    if (s.burn_in !== undefined) out.burn_in = s.burn_in;
    return parseContract(samplerEntry, out, `${path}: samplers.${i}`, 'sampler entry');
  });
  return { experiment: file.experiment, dtype, targets, samplers };
}

/** A build file: one target entry at the top level. */
export function loadTargetFile(
  path: string,
  sets: ReadonlyArray<string> = [],
  opts: LoadOptions = {},
): { target_id: string; config: ResolvedTargetConfig } & TargetSamplingSettings {
  const { value: entry, source } = loadConfigFile(path, targetEntry, sets, normalizeTargetEntry);
  const { config, sampling } = resolveTargetEntry(entry, source, [], { presetsDir: opts.presetsDir });
  return { target_id: targetIdOf(config), config, ...sampling };
}

/** Validates and resolves a plain target entry object (not from a file), e.g. in tests. */
export function resolveTargetObject(raw: unknown, label = '<target>', opts: LoadOptions = {}): ResolvedTargetConfig {
  const source = new ConfigSource(label);
  const entry = validateConfig(normalizeTargetEntry(raw), targetEntry, source);
  return resolveTargetEntry(entry, source, [], { presetsDir: opts.presetsDir }).config;
}
