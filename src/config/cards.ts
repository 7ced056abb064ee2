/**
 * Executor cards: where and how workflow tasks run (the Python system's "Parsl cards").
 *
 * A card is a small YAML file. The Python system's `config/parsl/local-htex.yaml` is accepted as
 * written; SLURM cards keep the Python key names. `type` picks the executor:
 *   local, local_processes, local_htex -> a pool of child processes (one fresh process per task)
 *   local_threads                      -> a worker-thread pool (one process, shared env copy)
 *   slurm                              -> one sbatch job per task
 * `local` used to mean threads in the Python system; here it means processes, because tasks
 * sharing one process let one task's global state reach another.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  applySets, ConfigError, ConfigSource, nearestKey, parseSet, parseYamlText, validateConfig,
} from './load.js';

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

/** A card with defaults applied and the executor kind resolved. */
export interface Card extends RawCard {
  executor: ExecutorKind;
  label: string;
  max_workers: number;
  retries: number;
  run_dir: string;
  worker_init: string;
  /** File the card came from, or a description of where it came from. */
  source: string;
}

export const CARD_KEYS: readonly string[] = Object.keys(cardSchema.shape);

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

/** Validates a raw card object; errors name the file, the line and the nearest valid key. */
export function validateCard(raw: unknown, source: ConfigSource): Card {
  const c = validateConfig(raw, cardSchema, source);
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
  }
  const cores = availableParallelism();
  return {
    ...c,
    executor,
    label: c.label ?? `lambda_hat_${c.type}`,
    // SLURM: how many jobs may be queued or running at once; the cluster does the scheduling.
    max_workers: c.max_workers ?? (executor === 'slurm' ? (c.max_blocks ?? 64) : cores),
    retries: c.retries ?? 1,
    run_dir: c.run_dir ?? 'workflows',
    worker_init: (c.worker_init ?? '').trim(),
    source: source.file ?? '<card>',
  };
}

const SLURM_ONLY_KEYS = [
  'partition', 'walltime', 'nodes_per_block', 'init_blocks', 'min_blocks', 'max_blocks', 'cores_per_node',
  'mem_per_node', 'gpus_per_node', 'gpu_type', 'account', 'qos', 'constraint', 'scheduler_options_extra',
];

/** Parses card YAML text; `sets` are `--set k=v` overrides applied before validation. */
export function parseCard(text: string, file: string, sets: readonly string[] = []): Card {
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
  return validateCard(applySets(value, sets, source), source);
}

export function loadCard(ref: string, sets: readonly string[] = [], cwd?: string): Card {
  const path = resolveCardPath(ref, cwd);
  return parseCard(readFileSync(path, 'utf8'), path, sets);
}

/** `--local` with no card: the local process pool (the shipped local.yaml). */
export function defaultLocalCard(sets: readonly string[] = []): Card {
  return loadCard(join(packageRoot(), 'config', 'cards', 'local.yaml'), sets);
}
