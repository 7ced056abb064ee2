/**
 * The Python lambda-hat's key names, read as lambda-hat's own: one table per config section
 * and per sampler, applied to the raw YAML before validation, so that the Python system's
 * experiment files, data presets and cards run unchanged while our schemas keep our names.
 *
 * Every Python key in a table gets exactly one of four outcomes:
 *   mapped     lambda-hat has the setting under another name (or place): the value moves there.
 *              This includes keys the Python system read under one name and silently ignored
 *              under another (`n_train`, HMC `num_samples`): here they do what they say, and
 *              the note says the Python system ignored them, because its numbers differ.
 *   same       the value is what lambda-hat does anyway (`thinning: 1`, `whitening_mode:
 *              none`, `null` meaning "default"): accepted without a word in the run, listed
 *              in the dry run.
 *   no effect  accepted with ONE warning naming file:line and why it changes nothing here.
 *   error      a setting lambda-hat cannot honour (VI `algo: flow`), located, with the fix.
 * A key in no table is ours or a typo; the schema decides (did-you-mean included).
 *
 * Notes are collected in a CompatLog the caller owns (no module state); a preset read once
 * per target logs its notes once (deduplicated by place).
 */
import type { DType } from '../engine/types.js';
import { ConfigSource, isPlainObject, type ConfigPath, pathString } from './load.js';

export type CompatKind = 'mapped' | 'same' | 'no_effect';

export interface CompatNote {
  kind: CompatKind;
  /** `file:line`, or `file (from --set k=v)`. */
  where: string;
  /** Dotted path of the key as written. */
  key: string;
  value: unknown;
  /** Dotted path (relative to the entry or section) the value went to, for `mapped`. */
  to?: string;
  message: string;
}

/** The compatibility notes of one load (experiment, presets, card). */
export class CompatLog {
  readonly notes: CompatNote[] = [];
  private readonly seen = new Set<string>();

  add(note: CompatNote): void {
    const id = `${note.where}\u0000${note.key}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.notes.push(note);
  }

  get warnings(): CompatNote[] {
    return this.notes.filter((n) => n.kind === 'no_effect');
  }

  /** Notes in the order of the files they point at (line order within a file). */
  sorted(): CompatNote[] {
    const line = (w: string): number => Number(/:(\d+)$/.exec(w)?.[1] ?? 0);
    const file = (w: string): string => w.replace(/:\d+$/, '');
    return [...this.notes].sort((a, b) => file(a.where).localeCompare(file(b.where)) || line(a.where) - line(b.where));
  }
}

/** One line for a terminal: `file:line: key: message`. */
export function formatCompatNote(n: CompatNote): string {
  return `${n.where}: ${n.key}: ${n.message}`;
}

type Outcome =
  | { map: ConfigPath; value: unknown; note: string }
  /** Our own key with a value that means the same here as there: left as it is, without a note. */
  | { keep: true }
  | { same: string }
  | { noEffect: string }
  | { error: string; hint?: string };

export interface RuleContext {
  /** The experiment's dtype, when known (a sampler's `dtype` is compared with it). */
  dtype?: DType;
}

type Rule = (value: unknown, ctx: RuleContext) => Outcome;

const rename = (to: string | ConfigPath, note = ''): Rule => (value) => ({
  map: typeof to === 'string' ? to.split('.') : to,
  value,
  note,
});

/** No effect here; `neutral` values are what lambda-hat does anyway (accepted silently). */
const noEffect = (why: string, neutral?: (v: unknown) => boolean, sameWhy?: string): Rule => (value) =>
  neutral?.(value) ? { same: sameWhy ?? why } : { noEffect: why };

const isNull = (v: unknown): boolean => v === null;

const PY_IGNORED = 'the Python system ignored this key';

// --- target sections ------------------------------------------------------------------------

const DATA_RULES: Readonly<Record<string, Rule>> = {
  n_data: rename('n', "the Python system's name for the number of rows"),
  n_train: rename('n', `${PY_IGNORED} (it read n_data); here it sets the number of rows`),
  n_test: noEffect('no effect: the held-out rows fed only the Python system\'s target diagnostics plot; lambda-hat draws no test set', isNull),
};

const MODEL_RULES: Readonly<Record<string, Rule>> = {
  // lambda-hat's own key (he | uniform); the Python system ignored it and always built Equinox's
  // uniform Linear init, which `init: uniform` reproduces (and the shipped presets use).
  init: (v) => v === 'uniform'
    ? { keep: true }
    : v === 'he'
      ? { map: ['init'], value: v, note: 'He-normal weights, zero biases (the Python system ignored this key: its networks had the uniform init)' }
      : noEffect(`no effect (${PY_IGNORED} too): init is he or uniform here`, isNull)(v, {}),
  skip_connections: noEffect(
    `no effect (${PY_IGNORED} too: its network builder never received it): the MLP has no skip connections`,
    (v) => v === false || v === null,
    'false: a plain MLP, as here',
  ),
  residual_period: noEffect(`no effect (${PY_IGNORED} too): there are no skip connections`, isNull),
};

const TRAINING_RULES: Readonly<Record<string, Rule>> = {
  learning_rate: rename('lr', "the Python system's name for the Adam/SGD learning rate"),
  early_stop_tol: (value) =>
    value === null
      ? { map: ['early_stop', 'enabled'], value: false, note: 'null: no early stopping, as in the Python system' }
      : { map: ['early_stop', 'tol'], value, note: 'stop when the std of the last 20 losses is below it (after step 100)' },
  batch_size: noEffect(`no effect (${PY_IGNORED} too): training is full-batch`, isNull, 'null: full batch, as here'),
  eval_every: noEffect(`no effect (${PY_IGNORED} too): training records its loss at every step`, isNull),
};

export type SectionKind = 'model' | 'data' | 'teacher' | 'training';

const SECTION_RULES: Readonly<Record<SectionKind, Readonly<Record<string, Rule>>>> = {
  model: MODEL_RULES,
  data: DATA_RULES,
  teacher: {},
  training: TRAINING_RULES,
};

// --- samplers ------------------------------------------------------------------------------

const thinning = noEffect(
  `no effect (${PY_IGNORED} too): every draw is kept; thin when analysing`,
  (v) => v === 1 || v === null,
  '1: every draw is kept, as here',
);

/** Keys every sampler entry's overrides may hold; paths are relative to the sampler entry. */
const COMMON_SAMPLER_RULES: Readonly<Record<string, Rule>> = {
  gamma: rename(['posterior', 'gamma'], 'the localizer strength of this sampler entry (the Python tuner\'s per-sampler gamma)'),
  dtype: (value, ctx) =>
    value === null || value === ctx.dtype
      ? { same: `${String(value)}: the experiment's precision` }
      : { noEffect: `no effect: every sampler runs in the target's precision (${ctx.dtype ?? 'the experiment dtype'}; set jax_enable_x64 or dtype on the experiment)` },
  chains: (value) =>
    isPlainObject(value)
      ? { map: ['chains'], value, note: 'chain settings of this sampler entry' }
      : { map: ['chains', 'count'], value, note: `the number of chains (${PY_IGNORED} here; it read sampler.chains)` },
};

const HMC_RULES: Readonly<Record<string, Rule>> = {
  num_warmup: rename(['overrides', 'warmup'], `${PY_IGNORED} (it read warmup); here it sets the adaptation steps`),
  num_samples: rename(['overrides', 'draws'], `${PY_IGNORED} (it read draws); here it sets the draws per chain`),
  target_acceptance: rename(['overrides', 'target_accept'], "the Python system's name for the target acceptance rate"),
  thinning,
  max_tree_depth: noEffect(`no effect (${PY_IGNORED} too): a NUTS setting; this HMC takes num_integration_steps leapfrog steps per draw`, isNull),
};

const MCLMC_RULES: Readonly<Record<string, Rule>> = {
  num_warmup: rename(['overrides', 'num_tuning_steps'], `${PY_IGNORED} (it never tuned); here it sets BlackJAX's num_steps of the L and step-size tuning`),
  num_steps: rename(['overrides', 'num_tuning_steps'], "BlackJAX's num_steps of mclmc_find_L_and_step_size"),
  num_samples: rename(['overrides', 'draws'], `${PY_IGNORED} (it read draws); here it sets the draws per chain`),
  trajectory_length: rename(['overrides', 'L'], `${PY_IGNORED} (it read L); here it fixes L (no L tuning, no preconditioner)`),
  thinning,
  integrator: noEffect(
    'no effect: MCLMC here always uses the isokinetic McLachlan integrator',
    (v) => v === 'isokinetic_mclachlan' || v === null,
    'isokinetic_mclachlan: the integrator used here',
  ),
};

const SGLD_RULES: Readonly<Record<string, Rule>> = {
  eps: rename(['overrides', 'precond_eps'], 'the a in eps_i = eps / (sqrt(v_i) + a) of the RMSProp/Adam preconditioner'),
  bias_correction: noEffect(
    'no effect: the preconditioner moments are always bias-corrected',
    (v) => v === true || v === null,
    'true: moments are bias-corrected, as here',
  ),
};

const FLOW_ONLY = 'no effect: a normalizing-flow setting (algo: flow), and lambda-hat has no flow VI';

const VI_RULES: Readonly<Record<string, Rule>> = {
  algo: (value) => {
    if (value === 'mfa' || value === null) return { map: ['overrides', 'family'], value: 'mfa', note: 'a mixture of factor analysers: M components of rank r' };
    if (value === 'flow') {
      return {
        error: 'VI algo: flow (a normalizing flow) is not supported by lambda-hat',
        hint: 'use algo: mfa (a mixture of factor analysers) or family: mean_field, or another sampler',
      };
    }
    return { error: `VI algo must be mfa (flow is not supported), got ${JSON.stringify(value)}`, hint: 'use algo: mfa' };
  },
  eval_samples: rename(['overrides', 'draws_per_eval'], 'draws of q whose mean loss gives each recorded L_n'),
  whitening_mode: noEffect(
    'no effect: lambda-hat\'s VI has no whitening stage (its Adam optimiser adapts per-coordinate steps and each component learns its own diagonal scale)',
    (v) => v === 'none' || v === null,
    'none: no whitening, as here',
  ),
  whitening_decay: noEffect('no effect: lambda-hat\'s VI has no whitening stage', isNull),
  clip_global_norm: noEffect('no effect: lambda-hat\'s VI does not clip gradients', isNull, 'null: no gradient clipping, as here'),
  alpha_temperature: noEffect('no effect: mixture weights are a plain softmax of their logits', (v) => v === 1 || v === null, '1: a plain softmax, as here'),
  tensorboard: noEffect('no effect: lambda-hat writes traces.feather and plots instead of TensorBoard logs', (v) => v === false || v === null, 'false: no TensorBoard logs, as here'),
  r_per_component: noEffect('no effect: every component has rank r', isNull, 'null: every component has rank r, as here'),
  alpha_dirichlet_prior: noEffect('no effect: no prior on the mixture weights', isNull, 'null: no prior on the mixture weights, as here'),
  lr_schedule: noEffect('no effect: the learning rate is constant', isNull, 'null: a constant learning rate, as here'),
  lr_warmup_frac: noEffect('no effect: the learning rate is constant (no schedule, no warmup)', isNull),
  entropy_bonus: noEffect('no effect: the ELBO has exactly one entropy term', (v) => v === 0 || v === null, '0: the plain ELBO, as here'),
  d_latent: noEffect(FLOW_ONLY, isNull),
  sigma_perp: noEffect(FLOW_ONLY, isNull),
  flow_depth: noEffect(FLOW_ONLY, isNull),
  flow_hidden: noEffect(FLOW_ONLY, isNull),
  flow_type: noEffect(FLOW_ONLY, isNull),
};

/** Python key tables by canonical sampler (aliases share their module's table). */
const SAMPLER_RULES: Readonly<Record<string, Readonly<Record<string, Rule>>>> = {
  hmc: HMC_RULES,
  mclmc: MCLMC_RULES,
  sgld: SGLD_RULES,
  rmsprop_sgld: SGLD_RULES,
  adam_sgld: SGLD_RULES,
  sgnht: {},
  vi: VI_RULES,
};

/** The Python keys a sampler's overrides may hold (for did-you-mean alongside our own keys). */
export function pythonSamplerKeys(name: string): string[] {
  return [...Object.keys(COMMON_SAMPLER_RULES), ...Object.keys(SAMPLER_RULES[name] ?? {})];
}

/** The Python keys of a target section (for did-you-mean alongside our own keys). */
export function pythonSectionKeys(kind: SectionKind): string[] {
  return Object.keys(SECTION_RULES[kind]);
}

/** Python keys a mapping at `path` of an experiment or target file accepts (did-you-mean). */
export function pythonKeysAt(path: ConfigPath): readonly string[] {
  const last = path[path.length - 1];
  return last === 'model' || last === 'data' || last === 'teacher' || last === 'training' ? pythonSectionKeys(last) : [];
}

// --- applying the tables ----------------------------------------------------------------------

/** Where a key at `parent.key` was written: `file:line` or `file (from --set ...)`. */
export function whereOf(source: ConfigSource, parent: ConfigPath, key: string): string {
  const set = source.setFor([...parent, key]);
  if (set !== undefined) return `${source.file ?? '<config>'} (from --set ${set})`;
  const line = source.lineOf(parent, key);
  return `${source.file ?? '<config>'}${line !== undefined ? `:${line}` : ''}`;
}

function getIn(obj: Record<string, unknown>, path: ConfigPath): unknown {
  let node: unknown = obj;
  for (const seg of path) {
    if (!isPlainObject(node)) return undefined;
    node = node[String(seg)];
  }
  return node;
}

function setIn(obj: Record<string, unknown>, path: ConfigPath, value: unknown): void {
  let node = obj;
  for (const seg of path.slice(0, -1)) {
    const k = String(seg);
    const next = node[k];
    if (!isPlainObject(next)) node[k] = {};
    node = node[k] as Record<string, unknown>;
  }
  node[String(path[path.length - 1])] = value;
}

interface ApplyArgs {
  /** The object the rules' target paths are relative to (mutated: a copy owned by the caller). */
  root: Record<string, unknown>;
  /** Path of `root` in the file. */
  rootPath: ConfigPath;
  /** The mapping whose keys are read, as a path relative to `root` ([] for root itself). */
  at: ConfigPath;
  rules: Readonly<Record<string, Rule>>;
  source: ConfigSource;
  log: CompatLog;
  ctx: RuleContext;
  /** Drop `null` values of keys in no table (null means "default" for these sections). */
  dropNulls: boolean;
  /** Record where each mapped value came from: key (relative to root) -> path in the file. */
  origins?: Map<string, ConfigPath>;
  /** Prefix of target paths in messages (the section's name when root is a section). */
  label?: string;
}

function applyRules(a: ApplyArgs): void {
  const section = getIn(a.root, a.at);
  if (!isPlainObject(section)) return;
  const filePath = [...a.rootPath, ...a.at];
  // Our own keys the section already holds: a Python key mapping onto one is a conflict.
  const written = new Map<string, string>();
  for (const key of Object.keys(section)) {
    // null is "the default": it does not compete with a Python key for the same setting.
    if (!Object.hasOwn(a.rules, key) && section[key] !== null) written.set([...a.at, key].map(String).join('.'), key);
  }
  for (const key of Object.keys(section)) {
    const value = section[key];
    const rule = Object.hasOwn(a.rules, key) ? a.rules[key] : undefined;
    const where = whereOf(a.source, filePath, key);
    const dotted = pathString([...filePath, key]);
    if (!rule) {
      if (value === null && a.dropNulls) {
        delete section[key];
        a.log.add({ kind: 'same', where, key: dotted, value, message: 'null: the default' });
      }
      continue;
    }
    const out = rule(value, a.ctx);
    if ('error' in out) throw a.source.error(filePath, out.error, out.hint, key);
    if ('keep' in out) continue;
    delete section[key];
    if ('same' in out) {
      a.log.add({ kind: 'same', where, key: dotted, value, message: out.same });
      continue;
    }
    if ('noEffect' in out) {
      a.log.add({ kind: 'no_effect', where, key: dotted, value, message: out.noEffect });
      continue;
    }
    const target = out.map.map(String).join('.');
    const clash = written.get(target);
    const existing = getIn(a.root, out.map);
    if (clash !== undefined || (existing !== undefined && existing !== null)) {
      throw a.source.error(
        filePath,
        `'${key}' (the Python name) and '${clash ?? target}' both set ${target}`,
        'keep one of them',
        key,
      );
    }
    written.set(target, key);
    setIn(a.root, out.map, out.value);
    a.origins?.set(target, [...filePath, key]);
    const shown = a.label ? `${a.label}.${target}` : target;
    const val = out.value === value ? '' : ` = ${JSON.stringify(out.value)}`;
    a.log.add({ kind: 'mapped', where, key: dotted, value, to: shown, message: `${JSON.stringify(value)} -> ${shown}${val}${out.note ? ` (${out.note})` : ''}` });
  }
}

/** Maps the Python keys of one target section (model, data, teacher, training) in place. */
export function applySectionCompat(
  kind: SectionKind,
  section: Record<string, unknown>,
  sectionPath: ConfigPath,
  source: ConfigSource,
  log: CompatLog,
): void {
  applyRules({
    root: section, rootPath: sectionPath, at: [], rules: SECTION_RULES[kind], source, log, ctx: {}, dropNulls: false, label: kind,
  });
}

/** What the compat pass returns for one sampler entry. */
export interface SamplerOrigins {
  /** Our key (relative to the entry, e.g. `overrides.draws`) -> where its value was written. */
  mapped: Map<string, ConfigPath>;
}

/**
 * Maps the Python keys of one sampler entry's overrides (in place). Overrides with `null`
 * values mean "default" and are dropped; the rest is left for the sampler's schema.
 */
export function applySamplerCompat(
  entry: Record<string, unknown>,
  entryPath: ConfigPath,
  source: ConfigSource,
  log: CompatLog,
  ctx: RuleContext,
): SamplerOrigins {
  const name = typeof entry.name === 'string' ? entry.name : '';
  const mapped = new Map<string, ConfigPath>();
  if (entry.overrides === null) delete entry.overrides;
  if (isPlainObject(entry.overrides)) {
    entry.overrides = { ...entry.overrides };
    applyRules({
      root: entry, rootPath: entryPath, at: ['overrides'],
      rules: { ...COMMON_SAMPLER_RULES, ...(SAMPLER_RULES[name] ?? {}) },
      source, log, ctx, dropNulls: true, origins: mapped,
    });
  }
  return { mapped };
}

/** Maps the Python keys of every target section of an experiment's target entry (in place). */
export function applyTargetCompat(entry: Record<string, unknown>, entryPath: ConfigPath, source: ConfigSource, log: CompatLog): void {
  const sections: SectionKind[] = ['model', 'data', 'teacher', 'training'];
  const mapSections = (holder: Record<string, unknown>, holderPath: ConfigPath): void => {
    for (const kind of sections) {
      const section = holder[kind];
      if (!isPlainObject(section)) continue;
      const copy = { ...section };
      holder[kind] = copy;
      applySectionCompat(kind, copy, [...holderPath, kind], source, log);
    }
  };
  mapSections(entry, entryPath);
  const overrides = entry.overrides;
  if (isPlainObject(overrides)) {
    const copy = { ...overrides };
    entry.overrides = copy;
    mapSections(copy, [...entryPath, 'overrides']);
  }
}
