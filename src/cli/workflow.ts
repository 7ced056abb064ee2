/**
 * `lambda-hat workflow llc --config FILE [--local | --backend B | --parsl-card CARD | --card CARD]
 *   [--experiment NAME] [--set k=v]... [--promote] [--dry-run [--json]]`
 * (`workflow sample` is the same command: the Python system's newer name.)
 *
 * With no --config: the shipped demo (config/demo.yaml), which also writes the HTML report. A
 * --config that is not a file may name a shipped experiment (`--config smoke` is
 * config/smoke.yaml, the Python system's smoke file). With no card, or --local: the local
 * process pool (config/cards/local.yaml); `--backend local | slurm-cpu |
 * slurm-gpu` (the Python CLI's option, default from LAMBDA_HAT_BACKEND) picks a shipped card.
 * `--set` applies to the card, except keys under the experiment's own top-level keys
 * (`targets.0.overrides.training.steps=50`, `samplers.1.overrides.draws=20`, `experiment=x`),
 * which apply to the experiment file.
 *
 * Everything is validated before the first task starts: the experiment (targets resolved,
 * Python keys mapped), the card, and every sampler entry against its sampler (plan-time
 * validation), so a config error exits 2 with file:line and nothing runs.
 * Exit status: 0 when every task succeeded, 1 when any failed, 2 for a config error, 130 after Ctrl-C.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { defaultLocalCard, loadCard, packageRoot, type Card } from '../config/cards.js';
import { experimentStore, loadExperiment, type LoadedExperiment, type StoreChoice } from '../config/experiment.js';
import { formatConfigError, parseSet } from '../config/load.js';
import { formatCompatNote } from '../config/python-compat.js';
import { validateExperiment } from '../workflow/validate.js';
import { disagreementLines } from '../workflow/results.js';
import { registerTune } from './tune.js';

interface LlcOptions {
  config?: string;
  local?: boolean;
  card?: string;
  parslCard?: string;
  backend?: string;
  experiment?: string;
  set: string[];
  promote?: boolean;
  progress?: 'auto' | 'plain' | 'silent';
  dryRun?: boolean;
  json?: boolean;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function defaultExperimentPath(): string {
  return join(packageRoot(), 'config', 'demo.yaml');
}

/** A path as given, else a shipped experiment by name (`smoke` -> config/smoke.yaml). */
export function resolveExperimentPath(config: string | undefined): string {
  if (config === undefined) return defaultExperimentPath();
  if (existsSync(config) || /[\\/]/.test(config)) return config;
  for (const name of [config, `${config}.yaml`]) {
    const shipped = join(packageRoot(), 'config', name);
    if (existsSync(shipped) && name.endsWith('.yaml')) return shipped;
  }
  return config;
}

/**
 * The Python CLI's backends and the shipped cards they run on. lambda-hat computes on CPUs,
 * so slurm-gpu runs the CPU card (requesting no GPU) and says so.
 */
export const BACKEND_CARDS: Readonly<Record<string, { card: string; note?: string }>> = {
  local: { card: 'local' },
  'slurm-cpu': { card: 'slurm/cpu' },
  'slurm-gpu': {
    card: 'slurm/cpu',
    note: "--backend slurm-gpu: lambda-hat's tasks compute on CPUs, so this runs the slurm/cpu card and requests no GPU (give --card for another partition)",
  },
};

/** Top-level keys of an experiment file: a --set under one of them applies to the experiment. */
const EXPERIMENT_SET_KEYS = new Set(['experiment', 'store_root', 'jax_enable_x64', 'dtype', 'targets', 'samplers']);

/** Splits --set into the card's and the experiment's (by the first segment of the key). */
export function splitSets(sets: readonly string[]): { card: string[]; experiment: string[] } {
  const card: string[] = [];
  const experiment: string[] = [];
  for (const s of sets) (EXPERIMENT_SET_KEYS.has(parseSet(s).path[0]!) ? experiment : card).push(s);
  return { card, experiment };
}

export function resolveCardOption(o: Pick<LlcOptions, 'card' | 'parslCard' | 'set'>): Card {
  return chooseCard({ ...o, set: splitSets(o.set).card }, {}).card;
}

/** The card the options ask for, and a note when a backend was mapped to another card. */
export function chooseCard(
  o: Pick<LlcOptions, 'card' | 'parslCard' | 'set' | 'backend' | 'local'>,
  env: NodeJS.ProcessEnv,
): { card: Card; note?: string } {
  if (o.card && o.parslCard && o.card !== o.parslCard) {
    throw new Error(`--card ${o.card} and --parsl-card ${o.parslCard} are the same option: give one`);
  }
  const ref = o.card ?? o.parslCard;
  if (o.backend !== undefined && ref !== undefined) {
    throw new Error(`--backend ${o.backend} and --card ${ref} both choose the executor: give one`);
  }
  const fromEnv = o.backend === undefined && ref === undefined && !o.local ? env.LAMBDA_HAT_BACKEND : undefined;
  const backend = o.backend ?? (fromEnv === '' ? undefined : fromEnv);
  if (backend !== undefined) {
    const b = Object.hasOwn(BACKEND_CARDS, backend) ? BACKEND_CARDS[backend] : undefined;
    const origin = o.backend !== undefined ? '--backend' : 'LAMBDA_HAT_BACKEND';
    if (!b) throw new Error(`${origin} ${backend}: must be one of ${Object.keys(BACKEND_CARDS).join(', ')}`);
    if (o.local && backend !== 'local') throw new Error(`--local and --backend ${backend} disagree: give one`);
    const note = [fromEnv !== undefined ? `backend ${backend} from LAMBDA_HAT_BACKEND` : undefined, b.note].filter(Boolean).join('; ');
    return { card: loadCard(b.card, o.set), ...(note ? { note } : {}) };
  }
  return { card: ref ? loadCard(ref, o.set) : defaultLocalCard(o.set) };
}

export function registerWorkflow(program: Command): void {
  const wf = program.command('workflow').description('Run experiments as task graphs on an executor');
  wf.command('llc')
    .alias('sample')
    .description('Plan targets x samplers from an experiment file and run build -> sample -> diagnose (-> report); `workflow sample` is the same command')
    .option('--config <file>', 'experiment file, or a shipped one by name: demo (the default, config/demo.yaml) or smoke')
    .option('--local', 'run on the local process pool (the default unless a card says otherwise)')
    .option('--card <card>', 'executor card: a path or a shipped name (local, local-threads, local-htex, slurm/cpu)')
    .option('--parsl-card <card>', 'same as --card (the Python system\'s name)')
    .option('--backend <name>', 'the Python CLI\'s executor choice: local | slurm-cpu | slurm-gpu (default: LAMBDA_HAT_BACKEND)')
    .option('--experiment <name>', 'experiment name (default: the file\'s `experiment`, else dev)')
    .option('--set <key=value>', 'override a card key (--set max_workers=4) or, under targets/samplers/experiment..., a key of the experiment file (repeatable)', collect, [])
    .option('--promote', 'also write the HTML report when the runs are diagnosed (the default for the demo)')
    .option('--no-promote', 'no HTML report')
    .option('--progress <mode>', 'auto (redraw on a terminal), plain (lines) or silent', 'auto')
    .option('--dry-run', 'print the plan (targets, samplers, resolved settings, tasks and what the store already holds) and run nothing')
    .option('--json', 'with --dry-run: the plan as JSON')
    .action(async (o: LlcOptions) => {
      const code = await workflowLlc(o);
      process.exitCode = code;
    });
  registerTune(wf);
}

interface Prepared {
  card: Card;
  experiment: LoadedExperiment;
  store: StoreChoice;
  validated: Awaited<ReturnType<typeof validateExperiment>>;
  backendNote?: string;
}

/** Loads and validates everything a run needs; throws on the first config error. */
export async function prepareWorkflow(o: LlcOptions, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Promise<Prepared> {
  if (o.json && !o.dryRun) throw new Error('--json goes with --dry-run');
  const sets = splitSets(o.set);
  const { card, note } = chooseCard({ ...o, set: sets.card }, env);
  const experiment = loadExperiment(resolveExperimentPath(o.config), sets.experiment, o.experiment !== undefined ? { experimentName: o.experiment } : {});
  const store = experimentStore(experiment, env, cwd);
  const validated = await validateExperiment(experiment, store.home);
  return { card, experiment, store, validated, ...(note ? { backendNote: note } : {}) };
}

export async function workflowLlc(o: LlcOptions): Promise<number> {
  let prepared: Prepared;
  try {
    prepared = await prepareWorkflow(o);
  } catch (err) {
    process.stderr.write(`lambda-hat workflow: ${formatConfigError(err)}\n`);
    return 2;
  }
  const { card, experiment, store, validated } = prepared;
  if (o.dryRun) {
    const { dryRun, renderDryRun } = await import('../workflow/dry-run.js');
    const plan = await dryRun({
      exp: experiment, validated, card, store, promote: o.promote ?? false, ...(prepared.backendNote ? { cardNote: prepared.backendNote } : {}),
    });
    process.stdout.write(o.json ? `${JSON.stringify(plan, null, 2)}\n` : `${renderDryRun(plan)}\n`);
    return 0;
  }
  // The executors and the results writer load only once everything is known to be valid.
  const { runWorkflow } = await import('../workflow/index.js');
  const { summaryTable } = await import('../workflow/results.js');
  const home = store.home;
  const notes = [...(experiment.origin?.log.notes ?? []), ...card.notes];
  if (prepared.backendNote) process.stderr.write(`lambda-hat workflow: ${prepared.backendNote}\n`);
  for (const n of notes.filter((x) => x.kind === 'no_effect')) process.stderr.write(`lambda-hat workflow: warning: ${formatCompatNote(n)}\n`);
  const mapped = notes.filter((x) => x.kind === 'mapped').length;
  if (mapped > 0) process.stderr.write(`lambda-hat workflow: ${mapped} Python key(s) read as lambda-hat settings (--dry-run lists them)\n`);
  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write('\nlambda-hat workflow: interrupted: stopping submissions, stopping running tasks (Ctrl-C again to exit now)\n');
      ac.abort();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  process.stderr.write(
    `lambda-hat workflow: ${experiment.experiment}: ${experiment.targets.length} target(s) x ${experiment.samplers.length} sampler(s) ` +
      `on ${card.executor} (${card.source}, max_workers=${card.max_workers}, retries=${card.retries}); store ${home} (${store.rule})\n`,
  );
  try {
    const r = await runWorkflow({
      experiment,
      card,
      home,
      // The demo shows everything, the report included; other experiments ask for it.
      promote: o.promote ?? o.config === undefined,
      signal: ac.signal,
      progress: o.progress ?? 'auto',
    });
    process.stdout.write(`${summaryTable(r.rows)}\n`);
    const disagreements = disagreementLines(r.rows);
    if (disagreements.length > 0) {
      process.stdout.write(`\nsamplers that disagree beyond their Monte Carlo errors:\n${disagreements.map((l) => `  ${l}\n`).join('')}`);
    }
    const failed = r.failed.filter((f) => f.status === 'failed');
    if (failed.length > 0) {
      process.stdout.write(`\nfailed tasks:\n`);
      for (const f of failed) {
        const e = f.error!;
        const where = [e.job_id ? `job ${e.job_id}` : '', e.exit_code !== undefined ? `exit ${e.exit_code}` : '', e.signal ? `signal ${e.signal}` : '', e.log_path ? `log ${e.log_path}` : '']
          .filter(Boolean).join(', ');
        process.stdout.write(`  ${f.id}: ${e.kind}: ${e.message}${where ? ` (${where})` : ''}\n`);
      }
    }
    const skipped = r.failed.filter((f) => f.status === 'dependency_failed');
    if (skipped.length > 0) process.stdout.write(`not run (dependency failed): ${skipped.map((s) => s.id).join(', ')}\n`);
    process.stdout.write(`\nrun dir: ${r.runDir}\nresults: ${r.files.csv}\n`);
    const report = r.outcomes.get('report');
    if (report?.status === 'done') process.stdout.write(`report: ${(report.result as { path?: string }).path}\n`);
    if (r.cancelled) {
      process.stderr.write('lambda-hat workflow: interrupted; rerun the same command to complete only what is missing\n');
      return 130;
    }
    return r.failed.length > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}
