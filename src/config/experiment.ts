/**
 * Experiment files (the Python system's schema plus dtype, posterior, chains and burn_in) and
 * build files (one target entry). Loading maps the Python system's key names (python-compat.ts)
 * and resolves every target, so a bad preset name or an inconsistent architecture fails here,
 * before any task runs; the sampler entries are checked against their samplers' schemas by
 * workflow/validate.ts, also before any task runs.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { contentId } from '../store/index.js';
import type { DType } from '../engine/types.js';
import { parseContract, samplerEntry, type SamplerEntry } from '../contracts/index.js';
import {
  applySets, ConfigSource, isPlainObject, readYamlFile, validateConfig, type ConfigPath,
} from './load.js';
import { applySamplerCompat, applyTargetCompat, CompatLog, pythonKeysAt, whereOf } from './python-compat.js';
import {
  dropNulls,
  normalizeTargetEntry,
  resolveTargetEntry,
  type Given,
  type ResolvedTargetConfig,
  type TargetSamplingSettings,
} from './resolve.js';
import { DEFAULT_EXPERIMENT, experimentFile, targetEntry, type PosteriorSection, type ChainsSection } from './schema.js';

export interface ResolvedTarget {
  /** Position in the experiment's `targets` list. */
  index: number;
  target_id: string;
  /** What the target is built from: pass it as BuildTaskSpec.target. */
  config: ResolvedTargetConfig;
  posterior?: Given<PosteriorSection>;
  chains?: Given<ChainsSection>;
  burn_in?: number;
}

/** Where a sampler entry's settings were written, for errors found after loading. */
export interface SamplerOrigin {
  /** Path of the entry in the file (['samplers', j]). */
  path: ConfigPath;
  /** Settings that came from a Python key: our key relative to the entry -> where it was written. */
  mapped: Map<string, ConfigPath>;
  /** 'derived': the file gave no seed; see derivedSamplerSeed. */
  seed: 'file' | 'derived';
}

/** Where an experiment came from: the file and its parsed YAML (not serialisable; never sent to tasks). */
export interface ExperimentOrigin {
  file: string;
  source: ConfigSource;
  samplers: SamplerOrigin[];
  /** Notes about the Python system's keys (mapped, same, no effect), presets included. */
  log: CompatLog;
  /** The file's `store_root`, with where it was written. */
  store_root?: { value: string; where: string };
  /** Where the experiment name came from. */
  experiment_from: 'file' | 'option' | 'default';
}

export interface LoadedExperiment {
  experiment: string;
  dtype: DType;
  targets: ResolvedTarget[];
  samplers: SamplerEntry[];
  origin?: ExperimentOrigin;
  /** Seconds the whole workflow may take (see experimentFile.time_budget). */
  time_budget?: number;
}

export interface LoadOptions {
  presetsDir?: string;
  /** Overrides the file's `experiment` (the CLI's --experiment). */
  experimentName?: string;
  /** Collects the notes about Python keys (default: a new log, in `origin.log`). */
  log?: CompatLog;
}

/**
 * The seed of a sampler entry that gives none: 31 bits of sha256 of the experiment name and the
 * entry's position, so the same file always samples with the same keys, and two entries (or two
 * experiments) never share a stream by accident.
 */
export function derivedSamplerSeed(experiment: string, index: number): number {
  const h = createHash('sha256').update(`lambda-hat sampler seed\u0000${experiment}\u0000${index}`).digest();
  return h.readUInt32BE(0) >>> 1;
}

/** The artifact root of a workflow and the rule that chose it, in words. */
export interface StoreChoice {
  home: string;
  rule: string;
}

/**
 * LAMBDA_HAT_HOME, when set, is the artifact root; else the experiment file's `store_root`
 * (relative to the working directory, as in the Python system); else ./artifacts.
 */
export function experimentStore(exp: LoadedExperiment, env: NodeJS.ProcessEnv, cwd: string): StoreChoice {
  const root = exp.origin?.store_root;
  const fromEnv = env.LAMBDA_HAT_HOME;
  if (fromEnv !== undefined && fromEnv !== '') {
    return {
      home: resolve(cwd, fromEnv),
      rule: root !== undefined
        ? `LAMBDA_HAT_HOME rules: the file's store_root '${root.value}' (${root.where}) is not used`
        : 'LAMBDA_HAT_HOME',
    };
  }
  if (root !== undefined) return { home: resolve(cwd, root.value), rule: `store_root '${root.value}' (${root.where}); LAMBDA_HAT_HOME is not set` };
  return { home: resolve(cwd, 'artifacts'), rule: 'default ./artifacts (no LAMBDA_HAT_HOME, no store_root)' };
}

/** The id of a resolved target config: "tgt_" + 12 hex digits of sha256(canonical JSON). */
export function targetIdOf(config: ResolvedTargetConfig): string {
  return contentId('tgt', config);
}

function normalizeExperiment(raw: unknown): unknown {
  if (!isPlainObject(raw) || !Array.isArray(raw.targets)) return raw;
  return { ...raw, targets: raw.targets.map(normalizeTargetEntry) };
}

function experimentDtype(file: { dtype?: DType | null; jax_enable_x64?: boolean | null }, source: ConfigSource): DType {
  const fromFlag: DType | undefined = file.jax_enable_x64 == null ? undefined : file.jax_enable_x64 ? 'float64' : 'float32';
  if (file.dtype != null && fromFlag !== undefined && file.dtype !== fromFlag) {
    throw source.error(['dtype'], `dtype ${file.dtype} contradicts jax_enable_x64: ${String(file.jax_enable_x64)}`, 'keep one of them');
  }
  return file.dtype ?? fromFlag ?? 'float64';
}

const OPTUNA_KEYS = ['problems', 'methods', 'optuna', 'search_space'];

/**
 * The Python key names of an experiment mapped onto ours (a copy), and where each sampler
 * entry's mapped settings were written. An Optuna study file is refused with what it is.
 */
function applyExperimentCompat(raw: unknown, source: ConfigSource, log: CompatLog): { value: unknown; samplers: Map<number, Map<string, ConfigPath>> } {
  const samplers = new Map<number, Map<string, ConfigPath>>();
  if (!isPlainObject(raw)) return { value: raw, samplers };
  const study = OPTUNA_KEYS.find((k) => Object.hasOwn(raw, k));
  if (study !== undefined && !Object.hasOwn(raw, 'targets')) {
    throw source.error(
      [],
      "this is an Optuna study file (problems, methods, search_space: the input of the Python system's `workflow tune`), not an experiment",
      'workflow llc runs an experiment: a list of targets and samplers (see config/smoke.yaml); run this file with `lambda-hat workflow tune --config FILE`',
      study,
    );
  }
  const out: Record<string, unknown> = { ...raw };
  const dtype: DType | undefined = out.dtype === 'float32' || out.dtype === 'float64'
    ? out.dtype
    : typeof out.jax_enable_x64 === 'boolean' ? (out.jax_enable_x64 ? 'float64' : 'float32') : 'float64';
  if (Array.isArray(out.targets)) {
    out.targets = out.targets.map((t: unknown, i) => {
      if (!isPlainObject(t)) return t;
      const copy = { ...t };
      applyTargetCompat(copy, ['targets', i], source, log);
      return copy;
    });
  }
  if (Array.isArray(out.samplers)) {
    out.samplers = out.samplers.map((s: unknown, j) => {
      if (!isPlainObject(s)) return s;
      const copy = { ...s };
      samplers.set(j, applySamplerCompat(copy, ['samplers', j], source, log, { ...(dtype ? { dtype } : {}) }).mapped);
      return copy;
    });
  }
  return { value: out, samplers };
}

/**
 * Loads an experiment file, applies `--set` overrides (paths as in the file, e.g.
 * `targets.0.seed=7` or `samplers.1.overrides.draws=100`), maps the Python system's key names
 * and resolves every target.
 */
export function loadExperiment(path: string, sets: ReadonlyArray<string> = [], opts: LoadOptions = {}): LoadedExperiment {
  const log = opts.log ?? new CompatLog();
  const { value: text, source } = readYamlFile(path);
  const withSets = normalizeExperiment(applySets(normalizeExperiment(text), sets, source));
  const compat = applyExperimentCompat(withSets, source, log);
  const file = validateConfig(compat.value, experimentFile, source, [], pythonKeysAt);
  const dtype = experimentDtype(file, source);
  const experiment = opts.experimentName ?? file.experiment ?? DEFAULT_EXPERIMENT;
  const targets = file.targets.map((entry, index): ResolvedTarget => {
    const { config, sampling } = resolveTargetEntry(entry, source, ['targets', index], {
      defaultDtype: dtype,
      presetsDir: opts.presetsDir,
      log,
    });
    return { index, target_id: targetIdOf(config), config, ...sampling };
  });
  const origins: SamplerOrigin[] = [];
  const samplers = file.samplers.map((s, j): SamplerEntry => {
    const seed = s.seed ?? derivedSamplerSeed(experiment, j);
    origins.push({ path: ['samplers', j], mapped: compat.samplers.get(j) ?? new Map(), seed: s.seed == null ? 'derived' : 'file' });
    const out: Record<string, unknown> = { name: s.name, seed, overrides: s.overrides ?? {} };
    const posterior = dropNulls(s.posterior ?? {});
    if (Object.keys(posterior).length > 0) out.posterior = posterior;
    const chains = dropNulls(s.chains ?? {});
    if (Object.keys(chains).length > 0) out.chains = chains;
    if (s.burn_in != null) out.burn_in = s.burn_in;
    if (s.time_budget != null) out.time_budget = s.time_budget;
    if (s.work_budget !== undefined) out.work_budget = s.work_budget;
    return parseContract(samplerEntry, out, `${path}: samplers.${j}`, 'sampler entry');
  });
  const origin: ExperimentOrigin = {
    file: path,
    source,
    samplers: origins,
    log,
    experiment_from: opts.experimentName !== undefined ? 'option' : file.experiment != null ? 'file' : 'default',
  };
  if (file.store_root != null) origin.store_root = { value: file.store_root, where: whereOf(source, [], 'store_root') };
  return { experiment, dtype, targets, samplers, origin, ...(file.time_budget != null ? { time_budget: file.time_budget } : {}) };
}

/** A build file: one target entry at the top level. */
export function loadTargetFile(
  path: string,
  sets: ReadonlyArray<string> = [],
  opts: LoadOptions = {},
): { target_id: string; config: ResolvedTargetConfig } & TargetSamplingSettings {
  const log = opts.log ?? new CompatLog();
  const { value: text, source } = readYamlFile(path);
  const raw = normalizeTargetEntry(applySets(normalizeTargetEntry(text), sets, source));
  const mapped = isPlainObject(raw) ? { ...raw } : raw;
  if (isPlainObject(mapped)) applyTargetCompat(mapped, [], source, log);
  const entry = validateConfig(mapped, targetEntry, source, [], pythonKeysAt);
  const { config, sampling } = resolveTargetEntry(entry, source, [], { presetsDir: opts.presetsDir, log });
  return { target_id: targetIdOf(config), config, ...sampling };
}

/** Validates and resolves a plain target entry object (not from a file), e.g. in tests. */
export function resolveTargetObject(raw: unknown, label = '<target>', opts: LoadOptions = {}): ResolvedTargetConfig {
  const source = new ConfigSource(label);
  const entry = validateConfig(normalizeTargetEntry(raw), targetEntry, source, [], pythonKeysAt);
  return resolveTargetEntry(entry, source, [], { presetsDir: opts.presetsDir }).config;
}
