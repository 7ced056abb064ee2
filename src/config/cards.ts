/**
 * Executor cards: where and how workflow tasks run (the Python system's "Parsl cards").
 *
 * A card is a small YAML file. The Python system's cards are accepted as written (its
 * `config/parsl/local.yaml`, `local-htex.yaml`, `slurm/cpu.yaml`, `slurm/gpu-a100.yaml`);
 * `null` means the default for every key. `type` picks the executor:
 *   local, local_processes, local_htex -> a pool of child processes (one fresh process per task)
 *   local_threads                      -> a worker-thread pool (one process, shared env copy)
 *   slurm                              -> one sbatch job per task
 * `local` used to mean threads in the Python system; here it means processes, because tasks
 * sharing one process let one task's global state reach another.
 *
 * The Python local card's form `executors: [{label, max_workers, cores_per_worker,
 * worker_init}]` (one Parsl HighThroughputExecutor each) becomes one pool: the entries' workers
 * add up, and as in Parsl a worker needs cores_per_worker cores.
 *
 * Concurrency (`Card.max_workers`): local pools run max_workers tasks at once (default: the
 * machine's cores, divided by cores_per_worker when given). On SLURM each task is one job; a
 * card with `max_blocks` (every Python card) allows max_blocks x nodes_per_block x max_workers
 * jobs at once, Parsl's capacity for the same card (max_workers per node, default 1); without
 * max_blocks, max_workers is the number of jobs at once (default 64).
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  applySets, ConfigError, ConfigSource, isPlainObject, nearestKey, parseSet, parseYamlText, validateConfig,
} from './load.js';
import { CompatLog, whereOf, type CompatNote } from './python-compat.js';

export const CARD_TYPES = ['local', 'local_htex', 'local_threads', 'local_processes', 'slurm'] as const;
export type CardType = (typeof CARD_TYPES)[number];
export type ExecutorKind = 'threads' | 'processes' | 'slurm';

const positiveInt = z.number().int().min(1);
const nonNegInt = z.number().int().min(0);

/** Slurm `--time`: minutes, or "[D-]HH:MM:SS" / "MM:SS" / "MM" strings as sbatch reads them. */
const walltime = z.union([
  positiveInt,
  z.string().regex(/^(\d+-)?\d+(:\d{1,2}){0,2}$/, 'walltime must look like HH:MM:SS, D-HH:MM:SS or minutes'),
]);

export const cardSchema = z.strictObject({
  type: z.enum(CARD_TYPES),
  label: z.string().min(1).optional(),
  max_workers: positiveInt.optional(),
  /** Cores one task may use (Parsl's cores_per_worker): caps a local pool at cores / cores_per_worker. */
  cores_per_worker: positiveInt.optional(),
  /** Shell lines run before each worker (process: bash; slurm: top of the job script). */
  worker_init: z.string().optional(),
  /** Extra attempts for a failed task (1 = try twice). */
  retries: nonNegInt.optional(),
  /** Where invocation directories go; relative paths are under the artifact home. */
  run_dir: z.string().min(1).optional(),
  // SLURM keys (same names and units as the Python cards).
  partition: z.string().min(1).optional(),
  walltime: walltime.optional(),
  nodes_per_block: positiveInt.optional(),
  init_blocks: nonNegInt.optional(),
  min_blocks: nonNegInt.optional(),
  max_blocks: positiveInt.optional(),
  cores_per_node: positiveInt.optional(),
  /** GB. */
  mem_per_node: z.number().positive().optional(),
  gpus_per_node: nonNegInt.optional(),
  gpu_type: z.string().min(1).optional(),
  account: z.string().min(1).optional(),
  qos: z.string().min(1).optional(),
  constraint: z.string().min(1).optional(),
  /** Extra `#SBATCH` lines (with or without the `#SBATCH` prefix), one per line. */
  scheduler_options_extra: z.string().optional(),
});

export type RawCard = z.infer<typeof cardSchema>;

/** One entry of the Python local card's `executors:` list. */
export const executorEntrySchema = z.strictObject({
  label: z.string().min(1).nullish(),
  max_workers: positiveInt.nullish(),
  cores_per_worker: positiveInt.nullish(),
  worker_init: z.string().nullish(),
});

/** A card with defaults applied and the executor kind resolved. */
export interface Card extends RawCard {
  executor: ExecutorKind;
  label: string;
  /** Tasks (SLURM: jobs) at once. */
  max_workers: number;
  /** How max_workers was arrived at, for the plan and the log line. */
  max_workers_rule: string;
  retries: number;
  run_dir: string;
  worker_init: string;
  /** File the card came from, or a description of where it came from. */
  source: string;
  /** Python card keys that were mapped, were the default, or have no effect here. */
  notes: CompatNote[];
}

export const CARD_KEYS: readonly string[] = [...Object.keys(cardSchema.shape), 'executors'];

/** The package root (works from src/config and from dist/config alike). */
export function packageRoot(): string {
  return fileURLToPath(new URL('../../', import.meta.url));
}

export function executorOf(type: CardType): ExecutorKind {
  if (type === 'local_threads') return 'threads';
  if (type === 'slurm') return 'slurm';
  return 'processes';
}

/**
 * Finds a card file: an existing path as given; else a shipped card by name (`local-htex`,
 * `slurm/cpu`) under config/cards; else, for the Python system's `config/parsl/<name>.yaml`, the shipped
 * card of the same name. Errors list the shipped cards.
 */
export function resolveCardPath(ref: string, cwd: string = process.cwd()): string {
  const direct = resolve(cwd, ref);
  if (existsSync(direct)) return direct;
  const cardsDir = join(packageRoot(), 'config', 'cards');
  const name = ref.replace(/\.ya?ml$/, '');
  const candidates = [join(cardsDir, `${name}.yaml`)];
  if (/(^|\/)config\/parsl\//.test(ref)) candidates.push(join(cardsDir, basename(ref)));
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(
    `card ${ref} not found (looked at ${direct} and ${candidates.join(', ')}); ` +
      `shipped cards: local, local-threads, local-htex, slurm/cpu`,
  );
}

/**
 * The Python card forms read as ours (a copy): `null` values mean the default and are dropped;
 * an `executors:` list becomes one pool's keys. Notes go to `log`.
 */
function applyCardCompat(raw: unknown, source: ConfigSource, log: CompatLog): unknown {
  if (!isPlainObject(raw)) return raw;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === null && k !== 'type') log.add({ kind: 'same', where: whereOf(source, [], k), key: k, value: v, message: 'null: the default' });
    else out[k] = v;
  }
  if (!Object.hasOwn(out, 'executors')) return out;
  const list = out.executors;
  delete out.executors;
  if (!Array.isArray(list) || list.length === 0) {
    throw source.error(['executors'], 'must be a list of executors ({label, max_workers, cores_per_worker, worker_init})', undefined);
  }
  if (out.type === 'slurm' || out.type === 'local_threads') {
    throw source.error([], `only for a local process pool (type: local); this card is type: ${String(out.type)}`, 'give the keys at the top level', 'executors');
  }
  const entries = list.map((e, i) => validateConfig(e, executorEntrySchema, source, ['executors', i]));
  const same = (key: 'worker_init' | 'cores_per_worker'): unknown => {
    const values = entries.map((e) => e[key] ?? undefined);
    const i = values.findIndex((v) => v !== values[0]);
    if (i > 0) {
      throw source.error(['executors', i], `every executor must have the same ${key}: lambda-hat runs one pool per card`, 'give one executor', key);
    }
    return values[0];
  };
  const merged: Record<string, unknown> = {};
  const labels = entries.map((e) => e.label).filter((l): l is string => typeof l === 'string');
  if (labels.length > 0) merged.label = labels.join('+');
  const init = same('worker_init');
  if (init !== undefined) merged.worker_init = init;
  const cpw = same('cores_per_worker');
  if (cpw !== undefined) merged.cores_per_worker = cpw;
  // Workers add up over the executors; an entry without max_workers takes an equal share of
  // the default (the Python card: min(cores, 8) // len(executors); here: the machine's cores).
  if (entries.some((e) => e.max_workers != null)) {
    const share = Math.max(1, Math.floor(availableParallelism() / entries.length));
    merged.max_workers = entries.reduce((sum, e) => sum + (e.max_workers ?? share), 0);
  }
  for (const k of Object.keys(merged)) {
    if (!Object.hasOwn(out, k)) continue;
    // A --set wins over the file; the file itself must say it once.
    if (source.setFor([k]) !== undefined) delete merged[k];
    else throw source.error([], `${k} is given both at the top level and in executors`, 'keep one of them', k);
  }
  log.add({
    kind: 'mapped', where: whereOf(source, [], 'executors'), key: 'executors', value: list, to: Object.keys(merged).join(', '),
    message: `${entries.length} executor${entries.length > 1 ? 's' : ''} -> one process pool (${Object.entries(merged).map(([k, v]) => `${k}: ${k === 'worker_init' ? `${String(v).trim().split('\n').length} line(s)` : String(v)}`).join(', ') || 'defaults'})`,
  });
  return { ...out, ...merged };
}

/** Validates a raw card object; errors name the file, the line and the nearest valid key. */
export function validateCard(raw: unknown, source: ConfigSource, log: CompatLog = new CompatLog()): Card {
  const c = validateConfig(applyCardCompat(raw, source, log), cardSchema, source);
  const executor = executorOf(c.type);
  if (executor !== 'slurm') {
    const slurmOnly = Object.keys(c).filter((k) => SLURM_ONLY_KEYS.includes(k));
    if (slurmOnly.length > 0) {
      throw source.error(
        [slurmOnly[0]!],
        `only applies to type: slurm (this card is type: ${c.type})`,
        `remove ${slurmOnly.join(', ')} or set type: slurm`,
      );
    }
  } else {
    for (const k of ['init_blocks', 'min_blocks'] as const) {
      const v = c[k];
      if (v !== undefined && v > 0) {
        log.add({ kind: 'no_effect', where: whereOf(source, [], k), key: k, value: v, message: 'no effect: each task is one job, submitted when it is ready; no block is started ahead or kept waiting' });
      }
    }
    if (c.gpus_per_node !== undefined && c.gpus_per_node > 0) {
      log.add({ kind: 'no_effect', where: whereOf(source, [], 'gpus_per_node'), key: 'gpus_per_node', value: c.gpus_per_node, message: 'requests GPUs that lambda-hat\'s tasks do not use: they compute on CPUs' });
    }
  }
  const { max_workers, max_workers_rule } = concurrency(c, executor);
  return {
    ...c,
    executor,
    label: c.label ?? `lambda_hat_${c.type}`,
    max_workers,
    max_workers_rule,
    retries: c.retries ?? 1,
    run_dir: c.run_dir ?? 'workflows',
    worker_init: (c.worker_init ?? '').trim(),
    source: source.file ?? '<card>',
    notes: log.sorted(),
  };
}

/** Tasks (jobs) at once, and how that number follows from the card (see the module comment). */
function concurrency(c: RawCard, executor: ExecutorKind): { max_workers: number; max_workers_rule: string } {
  if (executor === 'slurm') {
    if (c.max_blocks !== undefined) {
      const perBlock = c.max_workers ?? 1;
      const nodes = c.nodes_per_block ?? 1;
      return {
        max_workers: c.max_blocks * nodes * perBlock,
        max_workers_rule: `jobs at once = max_blocks ${c.max_blocks} x nodes_per_block ${nodes} x max_workers ${perBlock}${c.max_workers === undefined ? ' (default)' : ''}`,
      };
    }
    return c.max_workers !== undefined
      ? { max_workers: c.max_workers, max_workers_rule: `jobs at once = max_workers ${c.max_workers}` }
      : { max_workers: 64, max_workers_rule: 'jobs at once = 64 (default)' };
  }
  const cores = availableParallelism();
  if (c.cores_per_worker === undefined) {
    return c.max_workers !== undefined
      ? { max_workers: c.max_workers, max_workers_rule: `max_workers ${c.max_workers}` }
      : { max_workers: cores, max_workers_rule: `default: the machine's ${cores} cores` };
  }
  const fit = Math.max(1, Math.floor(cores / c.cores_per_worker));
  if (c.max_workers === undefined) {
    return { max_workers: fit, max_workers_rule: `default: ${cores} cores / cores_per_worker ${c.cores_per_worker}` };
  }
  return {
    max_workers: Math.min(c.max_workers, fit),
    max_workers_rule: `min(max_workers ${c.max_workers}, ${cores} cores / cores_per_worker ${c.cores_per_worker})`,
  };
}

const SLURM_ONLY_KEYS = [
  'partition', 'walltime', 'nodes_per_block', 'init_blocks', 'min_blocks', 'max_blocks', 'cores_per_node',
  'mem_per_node', 'gpus_per_node', 'gpu_type', 'account', 'qos', 'constraint', 'scheduler_options_extra',
];

/** Parses card YAML text; `sets` are `--set k=v` overrides applied before validation. */
export function parseCard(text: string, file: string, sets: readonly string[] = [], log: CompatLog = new CompatLog()): Card {
  const { value, source } = parseYamlText(text, file);
  for (const s of sets) {
    // Cards are flat: a dotted key is a typo of a card key, never a nested setting.
    const key = parseSet(s).path.join('.');
    if (!CARD_KEYS.includes(key)) {
      const near = nearestKey(key, CARD_KEYS);
      throw new ConfigError(
        `--set ${s}: '${key}' is not a card key${near ? ` (did you mean '${near}'?)` : ''}; card keys: ${CARD_KEYS.join(', ')}`,
        file, undefined, [key],
      );
    }
  }
  return validateCard(applySets(value, sets, source), source, log);
}

export function loadCard(ref: string, sets: readonly string[] = [], cwd?: string): Card {
  const path = resolveCardPath(ref, cwd);
  return parseCard(readFileSync(path, 'utf8'), path, sets);
}

/** `--local` with no card: the local process pool (the shipped local.yaml). */
export function defaultLocalCard(sets: readonly string[] = []): Card {
  return loadCard(join(packageRoot(), 'config', 'cards', 'local.yaml'), sets);
}
