/**
 * Study files of `workflow tune`: the Python system's Optuna files read as written (`problems`,
 * `methods`, `optuna.{objective, max_trials_per_method, concurrency.batch_size, sampler,
 * pruner}`, `search_space`, `execution.budget`), with lambda-hat's additions (`study`,
 * `reference`).
 *
 * As for experiments, every key gets one outcome: ours (validated; a typo is an error with
 * file:line and did-you-mean), mapped from a Python name (its flat test-file keys
 * `optuna.max_trials`, `batch_size`, `hmc_budget_sec`, `method_budget_sec`, which its tuner took
 * as arguments instead; search parameters such as SGLD `eta0`), or accepted with one warning
 * when it changes nothing here (`store`, `execution.parsl_card`, a pruner, VI `whitening_mode`).
 * A file without `search_space` searches the shipped spaces (config/tune/search-space.yaml, the
 * Python system's default spaces).
 */
import { basename, join } from 'node:path';
import { z } from 'zod';
import { packageRoot } from '../config/cards.js';
import { derivedSamplerSeed, targetIdOf } from '../config/experiment.js';
import {
  applySets, ConfigError, ConfigSource, isPlainObject, knownKeysAt, nearestKey, readYamlFile, validateConfig, type ConfigPath,
} from '../config/load.js';
import { applyTargetCompat, CompatLog, pythonKeysAt, whereOf } from '../config/python-compat.js';
import { normalizeTargetEntry, resolveTargetEntry, type ResolvedTargetConfig } from '../config/resolve.js';
import { targetEntry } from '../config/schema.js';
import { posteriorLayer, type JsonObject, type JsonValue, type PosteriorLayer, type ChainsLayer } from '../contracts/index.js';
import { loadSampler, samplerNames, UnknownSamplerError } from '../samplers/registry.js';
import { contentId } from '../store/index.js';
import type { ParamSpec, SearchSettings, SearchSpace } from './tpe.js';

const posInt = z.number().int().min(1);

const paramSchema = z.strictObject({
  dist: z.enum(['float', 'int', 'categorical']),
  low: z.number().optional(),
  high: z.number().optional(),
  log: z.boolean().optional(),
  step: z.number().positive().nullable().optional(),
  choices: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).min(1).optional(),
});

export const studySchema = z.strictObject({
  /** lambda-hat: the study's name (default: the file's name). */
  study: z.string().min(1).optional(),
  problems: z.array(z.unknown()).min(1),
  methods: z.array(z.string().min(1)).min(1),
  optuna: z
    .strictObject({
      objective: z
        .union([
          z.enum(['abs', 'huber']),
          z.strictObject({ type: z.enum(['abs', 'huber']), delta: z.number().positive().optional() }),
        ])
        .optional(),
      max_trials_per_method: posInt.optional(),
      concurrency: z.strictObject({ batch_size: posInt.optional() }).optional(),
      sampler: z
        .strictObject({
          type: z.enum(['tpe', 'random']).optional(),
          seed: z.number().int().nonnegative().optional(),
          n_startup_trials: z.number().int().nonnegative().optional(),
        })
        .optional(),
      pruner: z
        .strictObject({
          type: z.enum(['median', 'percentile', 'hyperband', 'successive_halving', 'threshold', 'none', 'nop']).optional(),
          n_startup_trials: z.number().int().nonnegative().optional(),
          n_warmup_steps: z.number().int().nonnegative().optional(),
        })
        .nullable()
        .optional(),
    })
    .optional(),
  search_space: z.record(z.string(), z.record(z.string(), paramSchema)).optional(),
  execution: z
    .strictObject({
      budget: z.strictObject({ hmc_sec: z.number().positive().optional(), trial_sec: z.number().positive().optional() }).optional(),
    })
    .optional(),
  /** lambda-hat: how each problem's reference is found (default: the known truth, else HMC). */
  reference: z
    .strictObject({
      sampler: z.string().optional(),
      seed: z.number().int().nonnegative().optional(),
      overrides: z.record(z.string(), z.unknown()).optional(),
      value: z.number().optional(),
    })
    .optional(),
});

/** A searched parameter and where its value goes in the trial's sampler entry. */
export interface SearchParam {
  name: string;
  spec: ParamSpec;
  /** Path relative to the sampler entry: ['overrides', 'step_size'] or ['posterior', 'gamma']. */
  to: string[];
}

export interface MethodPlan {
  method: string;
  params: SearchParam[];
  /** Parameters of the file dropped because they change nothing here (with a warning). */
  dropped: string[];
}

export interface StudyProblemConfig {
  index: number;
  target_id: string;
  config: ResolvedTargetConfig;
  posterior?: PosteriorLayer;
  chains?: ChainsLayer;
  burn_in?: number;
}

export interface ReferenceSettings {
  /** Prefer the known truth when the target has one. */
  value?: number;
  sampler: string;
  seed: number;
  overrides: JsonObject;
}

export interface StudyConfig {
  name: string;
  file: string;
  source: ConfigSource;
  problems: StudyProblemConfig[];
  methods: MethodPlan[];
  objective: { type: 'abs' | 'huber'; delta: number };
  max_trials: number;
  batch_size: number;
  search: SearchSettings;
  budget: { hmc_sec: number; trial_sec: number };
  reference: ReferenceSettings;
  /** The study's content id: what decides its proposals (not its length or budgets). */
  study_id: string;
  log: CompatLog;
  /** Where the search spaces came from. */
  space_source: string;
}

/** The Python tuner's names of search parameters, per method, and what they set here. */
type ParamRule = { to: string[]; note: string } | { noEffect: string };
const SHARED_PARAMS: Readonly<Record<string, ParamRule>> = {
  gamma: { to: ['posterior', 'gamma'], note: 'the localizer strength γ of the trial' },
  beta0: { to: ['posterior', 'beta0'], note: 'β0 of the trial\'s posterior (nβ = n β0 / ln n)' },
};
const PARAM_RULES: Readonly<Record<string, Readonly<Record<string, ParamRule>>>> = {
  sgld: {
    eta0: { to: ['overrides', 'step_size'], note: 'the SGLD step size' },
    batch: { to: ['overrides', 'batch_size'], note: 'the minibatch size' },
    precond_type: { to: ['overrides', 'precond'], note: 'the preconditioner: none, rmsprop, adam' },
  },
  vi: {
    whitening_mode: {
      noEffect: "lambda-hat's VI has no whitening stage (its Adam optimiser adapts per-coordinate steps), so this parameter is not searched",
    },
  },
  mclmc: {
    steps: { to: ['overrides', 'draws'], note: 'the draws per chain' },
    target_accept: { noEffect: 'MCLMC here is unadjusted (no accept/reject step), so this parameter is not searched' },
  },
};

const DEFAULTS = {
  max_trials: 200, // the Python tuner's default max_trials_per_method
  batch_size: 16,
  hmc_sec: 7200,
  trial_sec: 600,
  n_startup_trials: 10,
  seed: 42,
};

export const SEARCH_SPACE_FILE = (): string => join(packageRoot(), 'config', 'tune', 'search-space.yaml');

/** The Python test file's flat keys under `optuna`, mapped onto the schema's places. */
const FLAT_KEYS: Readonly<Record<string, { to: string[]; note: string }>> = {
  max_trials: { to: ['optuna', 'max_trials_per_method'], note: 'the trials per method' },
  batch_size: { to: ['optuna', 'concurrency', 'batch_size'], note: 'the trials in flight at once' },
  hmc_budget_sec: { to: ['execution', 'budget', 'hmc_sec'], note: 'the time budget of each HMC reference run' },
  method_budget_sec: { to: ['execution', 'budget', 'trial_sec'], note: 'the time budget of each trial' },
};

function setPath(obj: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = obj;
  for (const seg of path.slice(0, -1)) {
    if (!isPlainObject(node[seg])) node[seg] = {};
    else node[seg] = { ...(node[seg] as Record<string, unknown>) };
    node = node[seg] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** Hydra-style dotted keys (`data.noise_scale: 0.05`) in a problem's overrides, nested. */
function expandDotted(v: unknown): unknown {
  if (!isPlainObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) {
    if (k.includes('.')) setPath(out, k.split('.'), expandDotted(val));
    else out[k] = isPlainObject(out[k]) && isPlainObject(val) ? { ...(out[k] as object), ...(expandDotted(val) as object) } : expandDotted(val);
  }
  return out;
}

/** Maps the Python keys of a study file (a copy) and logs the ones with no effect. */
function applyStudyCompat(raw: Record<string, unknown>, source: ConfigSource, log: CompatLog): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  if (isPlainObject(out.optuna)) {
    const optuna: Record<string, unknown> = { ...out.optuna };
    out.optuna = optuna;
    for (const [key, rule] of Object.entries(FLAT_KEYS)) {
      if (!Object.hasOwn(optuna, key)) continue;
      const value = optuna[key];
      delete optuna[key];
      log.add({
        kind: 'mapped', where: whereOf(source, ['optuna'], key), key: `optuna.${key}`, value: value as JsonValue, to: rule.to.join('.'),
        message: `${rule.note} (the Python tuner took this as an argument and ignored the key in the file; here it does what it says)`,
      });
      if (rule.to[0] === 'optuna') setPath(optuna, rule.to.slice(1), value);
      else setPath(out, rule.to, value);
    }
    const pruner = optuna.pruner;
    if (isPlainObject(pruner) && pruner.type !== 'none' && pruner.type !== 'nop') {
      log.add({
        kind: 'no_effect', where: whereOf(source, ['optuna'], 'pruner'), key: 'optuna.pruner', value: pruner as JsonValue,
        message: `no effect: a ${String(pruner.type ?? 'median')} pruner stops trials on intermediate values, and a trial here is one task that reports once, at its end; every trial runs to its end or its time budget`,
      });
    }
  }
  if (isPlainObject(out.execution) && Object.hasOwn(out.execution, 'parsl_card')) {
    const execution = { ...out.execution };
    log.add({
      kind: 'no_effect', where: whereOf(source, ['execution'], 'parsl_card'), key: 'execution.parsl_card', value: execution.parsl_card as JsonValue,
      message: 'no effect: the executor comes from --card / --backend (default: the local process pool)',
    });
    delete execution.parsl_card;
    out.execution = execution;
  }
  if (Object.hasOwn(out, 'store')) {
    log.add({
      kind: 'no_effect', where: whereOf(source, [], 'store'), key: 'store', value: out.store as JsonValue,
      message: 'no effect: the artifact root is LAMBDA_HAT_HOME (else ./artifacts), studies go to <home>/studies/, and `lambda-hat artifacts gc --ttl-days N` ages artifacts out',
    });
    delete out.store;
  }
  return out;
}

function located(source: ConfigSource, path: ConfigPath, key: string | undefined, message: string, hint?: string): ConfigError {
  return source.error(path, message, hint, key);
}

function paramSpecOf(raw: z.output<typeof paramSchema>, source: ConfigSource, at: ConfigPath): ParamSpec {
  if (raw.dist === 'categorical') {
    if (!raw.choices) throw located(source, at, 'dist', 'a categorical parameter needs choices', 'add choices: [a, b, ...]');
    for (const k of ['low', 'high', 'log', 'step'] as const) {
      if (raw[k] !== undefined) throw located(source, at, k, `${k} has no meaning for a categorical parameter`, 'drop it, or use dist: float | int');
    }
    return { dist: 'categorical', choices: raw.choices };
  }
  if (raw.low === undefined || raw.high === undefined) throw located(source, at, 'dist', `a ${raw.dist} parameter needs low and high`);
  if (raw.choices !== undefined) throw located(source, at, 'choices', `choices belong to dist: categorical, not ${raw.dist}`);
  if (!(raw.low <= raw.high)) throw located(source, at, 'low', `low (${raw.low}) is above high (${raw.high})`);
  const log = raw.log ?? false;
  if (log && raw.low <= 0) throw located(source, at, 'low', 'a log-scale parameter needs low > 0');
  const step = raw.step ?? null;
  if (log && step !== null) throw located(source, at, 'step', 'step and log: true do not combine (as in Optuna)', 'drop one of them');
  if (raw.dist === 'int') {
    if (!Number.isInteger(raw.low) || !Number.isInteger(raw.high)) throw located(source, at, 'low', 'an int parameter needs integer low and high');
    const s = step ?? 1;
    if (!Number.isInteger(s)) throw located(source, at, 'step', 'an int parameter needs an integer step');
    return { dist: 'int', low: raw.low, high: raw.high, log, step: s };
  }
  return { dist: 'float', low: raw.low, high: raw.high, log, step };
}

/**
 * Every value a parameter can take must be one its setting accepts: each choice, and the bounds
 * of a range, go through the sampler's schema (or the posterior's), so a bad space is a located
 * error before any trial runs, never a study of failed trials.
 */
function checkValues(loaded: ReturnType<typeof loadSampler>, spec: ParamSpec, to: string[], source: ConfigSource, at: ConfigPath): void {
  const values: JsonValue[] = spec.dist === 'categorical' ? spec.choices : [spec.low, spec.high];
  for (const v of values) {
    const r = to[0] === 'posterior'
      ? posteriorLayer.safeParse({ [to[1]!]: v })
      : loaded.sampler.schema.safeParse({ [to[1]!]: v, ...loaded.fixed });
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw source.error(at, `${JSON.stringify(v)} is not a valid ${to.join('.')} for ${loaded.requested}: ${issue.message.replace(/^Invalid input: /, '')}`,
        spec.dist === 'categorical' ? 'drop that choice' : 'narrow the range', spec.dist === 'categorical' ? 'choices' : v === spec.low ? 'low' : 'high');
    }
  }
}

/** The search parameters of one method, mapped onto its sampler's settings; checked against them. */
function methodPlan(
  method: string,
  space: Record<string, z.output<typeof paramSchema>>,
  spaceSource: ConfigSource,
  log: CompatLog,
): MethodPlan {
  const loaded = loadSampler(method);
  const ours = knownKeysAt(loaded.sampler.schema, []);
  const rules = { ...SHARED_PARAMS, ...(PARAM_RULES[loaded.sampler.name] ?? {}) };
  const params: SearchParam[] = [];
  const dropped: string[] = [];
  for (const [name, raw] of Object.entries(space)) {
    const at: ConfigPath = ['search_space', method, name];
    const rule = Object.hasOwn(rules, name) ? rules[name]! : undefined;
    if (rule && 'noEffect' in rule) {
      log.add({ kind: 'no_effect', where: whereOf(spaceSource, ['search_space', method], name), key: `search_space.${method}.${name}`, value: null, message: `no effect: ${rule.noEffect}` });
      dropped.push(name);
      continue;
    }
    let to: string[];
    if (rule) {
      to = rule.to;
      if (name !== rule.to[rule.to.length - 1]) {
        log.add({ kind: 'mapped', where: whereOf(spaceSource, ['search_space', method], name), key: `search_space.${method}.${name}`, value: null, to: to.join('.'), message: rule.note });
      }
    } else if (ours.includes(name)) {
      to = ['overrides', name];
    } else {
      const near = nearestKey(name, [...ours, ...Object.keys(rules)]);
      throw spaceSource.error(['search_space', method], `'${name}' is not a setting of sampler ${method}`,
        near !== undefined ? `did you mean '${near}'?` : `${method} settings: ${[...ours, ...Object.keys(rules)].sort().join(', ')}`, name);
    }
    const spec = paramSpecOf(raw, spaceSource, at);
    checkValues(loaded, spec, to, spaceSource, at);
    params.push({ name, spec, to });
  }
  return { method, params, dropped };
}

/** Sets each searched value at its place in a sampler entry (a copy). */
export function applyParams(base: { overrides?: JsonObject; posterior?: PosteriorLayer }, plan: MethodPlan, values: Record<string, JsonValue>): { overrides: JsonObject; posterior?: PosteriorLayer } {
  const overrides: JsonObject = { ...(base.overrides ?? {}) };
  const posterior: Record<string, JsonValue> = { ...(base.posterior ?? {}) } as Record<string, JsonValue>;
  for (const p of plan.params) {
    const v = values[p.name];
    if (v === undefined) continue;
    if (p.to[0] === 'posterior') posterior[p.to[1]!] = v;
    else overrides[p.to[1]!] = v;
  }
  return { overrides, ...(Object.keys(posterior).length > 0 ? { posterior: posterior as PosteriorLayer } : {}) };
}

export interface LoadStudyOptions {
  presetsDir?: string;
  /** Search spaces used when the file has none (default: the shipped ones). */
  defaultSpaceFile?: string;
}

export function loadStudy(file: string, sets: readonly string[] = [], opts: LoadStudyOptions = {}): StudyConfig {
  const log = new CompatLog();
  const { value: text, source } = readYamlFile(file);
  const withSets = applySets(text, sets, source);
  if (!isPlainObject(withSets)) throw source.error([], 'a study file is a mapping (problems, methods, optuna, search_space, execution)');
  if (Object.hasOwn(withSets, 'targets') && !Object.hasOwn(withSets, 'problems')) {
    throw source.error([], 'this is an experiment (targets, samplers), not a study', 'workflow tune reads problems, methods and search_space; run experiments with workflow llc', 'targets');
  }
  const mapped = applyStudyCompat(withSets, source, log);
  const parsed = validateConfig(mapped, studySchema, source);

  // Problems: target entries, located under problems.<i>.
  const problems = parsed.problems.map((p, index): StudyProblemConfig => {
    const at: ConfigPath = ['problems', index];
    let entry = normalizeTargetEntry(isPlainObject(p) ? { ...p, ...(Object.hasOwn(p, 'overrides') ? { overrides: expandDotted(p.overrides) } : {}) } : p);
    if (isPlainObject(entry)) {
      entry = { ...entry };
      applyTargetCompat(entry as Record<string, unknown>, at, source, log);
    }
    const checked = validateConfig(entry, targetEntry, source, at, pythonKeysAt);
    const { config, sampling } = resolveTargetEntry(checked, source, at, { presetsDir: opts.presetsDir, log });
    return { index, target_id: targetIdOf(config), config, ...sampling } as StudyProblemConfig;
  });

  // Search spaces: the file's, else the shipped ones.
  let spaceSource = source;
  let spaces = parsed.search_space;
  let space_source = file;
  if (spaces === undefined) {
    const shipped = opts.defaultSpaceFile ?? SEARCH_SPACE_FILE();
    const { value, source: s } = readYamlFile(shipped);
    spaceSource = s;
    spaces = validateConfig(value, z.strictObject({ search_space: studySchema.shape.search_space.unwrap() }), s).search_space;
    space_source = shipped;
  }
  const methods = parsed.methods.map((method, j): MethodPlan => {
    try {
      loadSampler(method);
    } catch (err) {
      if (!(err instanceof UnknownSamplerError)) throw err;
      const near = nearestKey(method, samplerNames());
      throw source.error(['methods', j], `unknown method '${method}'`, `${near !== undefined ? `did you mean '${near}'? ` : ''}samplers: ${samplerNames().join(', ')}`);
    }
    const space = spaces![method];
    if (space === undefined || Object.keys(space).length === 0) {
      throw source.error(['methods', j], `method '${method}' has no search space`, `add search_space.${method} (${space_source === file ? 'this file' : space_source} has: ${Object.keys(spaces!).join(', ')})`);
    }
    return methodPlan(method, space, spaceSource, log);
  });

  const o = parsed.optuna ?? {};
  const objective = o.objective === undefined ? { type: 'abs' as const } : typeof o.objective === 'string' ? { type: o.objective } : o.objective;
  const name = parsed.study ?? basename(file).replace(/\.ya?ml$/, '');
  const seed = o.sampler?.seed ?? DEFAULTS.seed;
  const search: SearchSettings = {
    type: o.sampler?.type ?? 'tpe',
    seed,
    n_startup_trials: o.sampler?.n_startup_trials ?? DEFAULTS.n_startup_trials,
  };
  const batch_size = o.concurrency?.batch_size ?? DEFAULTS.batch_size;
  const ref = parsed.reference ?? {};
  const reference: ReferenceSettings = {
    ...(ref.value !== undefined ? { value: ref.value } : {}),
    sampler: ref.sampler ?? 'hmc',
    seed: ref.seed ?? derivedSamplerSeed(`${name} reference`, 0),
    overrides: (ref.overrides ?? {}) as JsonObject,
  };
  const objectiveResolved = { type: objective.type, delta: objective.delta ?? 0.1 };
  // What decides the trials' proposals and runs; not the number of trials (a longer study
  // extends a shorter one) or the budgets.
  const study_id = contentId('study', {
    name,
    problems: problems.map((p) => ({ target_id: p.target_id, posterior: p.posterior ?? null, chains: p.chains ?? null, burn_in: p.burn_in ?? null })),
    methods: methods.map((m) => ({ method: m.method, params: m.params.map((p) => [p.name, p.spec, p.to]) })),
    search,
    batch_size,
    objective: objectiveResolved,
    reference,
  });
  return {
    name, file, source, problems, methods, objective: objectiveResolved,
    max_trials: o.max_trials_per_method ?? DEFAULTS.max_trials,
    batch_size,
    search,
    budget: { hmc_sec: parsed.execution?.budget?.hmc_sec ?? DEFAULTS.hmc_sec, trial_sec: parsed.execution?.budget?.trial_sec ?? DEFAULTS.trial_sec },
    reference, study_id, log, space_source,
  };
}

/** The seed every trial of (problem, method) samples with: common random numbers across trials. */
export function trialSeed(study: StudyConfig, problem: number, method: string): number {
  return derivedSamplerSeed(`${study.name} ${study.search.seed} ${method}`, problem);
}

/** The seed of the proposals of (problem, method): one stream per search, from the study's seed. */
export function searchSeed(study: StudyConfig, problem: number, method: string): number {
  return derivedSamplerSeed(`${study.name} search ${study.search.seed} ${method}`, problem);
}
