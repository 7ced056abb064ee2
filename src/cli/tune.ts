/**
 * `lambda-hat workflow tune --config FILE [--card CARD | --backend B | --local] [--set k=v]...
 *   [--dry-run [--json]]`
 *
 * Reads a study file (the Python system's Optuna files as written; config/tune/ ships some),
 * checks everything before any task starts (exit 2 on a config error, with file:line), then
 * runs the study and writes trials, the Pareto table, the ε-β view, plots and a report under
 * `<home>/studies/<name>-<id>/`. `--set` under the study's own keys (`optuna.*`, `problems.*`,
 * `search_space.*`, `execution.*`, `methods`) applies to the study, others to the card.
 * Exit: 0 done, 1 when no trial finished, 2 config error, 130 after Ctrl-C (rerun to resume).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../config/cards.js';
import { formatConfigError, parseSet } from '../config/load.js';
import { formatCompatNote } from '../config/python-compat.js';
import { chooseCard } from './workflow.js';

interface TuneOptions {
  config?: string;
  local?: boolean;
  card?: string;
  parslCard?: string;
  backend?: string;
  set: string[];
  dryRun?: boolean;
  json?: boolean;
  progress?: 'auto' | 'plain' | 'silent';
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

const STUDY_SET_KEYS = new Set(['study', 'problems', 'methods', 'optuna', 'search_space', 'execution', 'reference', 'store']);

/** A path as given, else a shipped study by name (`dln` -> config/tune/dln.yaml). */
export function resolveStudyPath(config: string): string {
  if (existsSync(config) || /[\\/]/.test(config)) return config;
  for (const name of [config, `${config}.yaml`]) {
    const shipped = join(packageRoot(), 'config', 'tune', name);
    if (existsSync(shipped) && name.endsWith('.yaml')) return shipped;
  }
  return config;
}

export function registerTune(wf: Command): void {
  wf.command('tune')
    .description('Tune samplers\' hyperparameters against a reference (the known truth, else HMC): TPE over a search space, trials as tasks, Pareto table of accuracy against work')
    .requiredOption('--config <file>', 'study file (problems, methods, optuna, search_space, execution: the Python system\'s Optuna files run as written), or a shipped one by name (dln, eps-beta)')
    .option('--local', 'run on the local process pool (the default)')
    .option('--card <card>', 'executor card: a path or a shipped name (local, local-threads, local-htex, slurm/cpu)')
    .option('--parsl-card <card>', 'same as --card')
    .option('--backend <name>', 'local | slurm-cpu | slurm-gpu (default: LAMBDA_HAT_BACKEND)')
    .option('--set <key=value>', 'override a study key (optuna.max_trials_per_method=20) or a card key (max_workers=2); repeatable', collect, [])
    .option('--progress <mode>', 'auto, plain or silent', 'auto')
    .option('--dry-run', 'print the study plan (problems, references, methods, search spaces, budgets, what is already done) and run nothing')
    .option('--json', 'with --dry-run: the plan as JSON')
    .action(async (o: TuneOptions) => {
      process.exitCode = await workflowTune(o);
    });
}

export async function workflowTune(o: TuneOptions, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const say = (s: string): void => {
    process.stderr.write(`lambda-hat tune: ${s}\n`);
  };
  let prepared;
  try {
    if (o.json && !o.dryRun) throw new Error('--json goes with --dry-run');
    const studySets: string[] = [];
    const cardSets: string[] = [];
    for (const s of o.set) (STUDY_SET_KEYS.has(parseSet(s).path[0]!) ? studySets : cardSets).push(s);
    const { card, note } = chooseCard({ ...o, set: cardSets }, env);
    const { loadStudy } = await import('../tune/config.js');
    const study = loadStudy(resolveStudyPath(o.config!), studySets);
    const fromEnv = env.LAMBDA_HAT_HOME;
    const home = fromEnv !== undefined && fromEnv !== '' ? resolve(fromEnv) : resolve('artifacts');
    prepared = { card, note, study, home };
  } catch (err) {
    process.stderr.write(`lambda-hat workflow: ${formatConfigError(err)}\n`);
    return 2;
  }
  const { card, note, study, home } = prepared;
  const { studyPlan, renderStudyPlan } = await import('../tune/plan.js');
  if (o.dryRun) {
    const plan = studyPlan(study, card, home);
    process.stdout.write(o.json ? `${JSON.stringify(plan, null, 2)}\n` : `${renderStudyPlan(plan)}\n`);
    return 0;
  }
  if (note) say(note);
  for (const n of study.log.warnings) say(`warning: ${formatCompatNote(n)}`);
  const mapped = study.log.notes.filter((n) => n.kind === 'mapped').length;
  if (mapped > 0) say(`${mapped} Python key(s) read as lambda-hat settings (--dry-run lists them)`);
  const { runStudy } = await import('../tune/study.js');
  const { writeStudyOutputs, searches, bestTrial, setLine, samplerEntryLine } = await import('../tune/outputs.js');
  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write('\nlambda-hat tune: interrupted: stopping the running trials (finished ones are kept; Ctrl-C again to exit now)\n');
      ac.abort();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const total = study.problems.length * study.methods.length * study.max_trials;
  say(`${study.name}: ${study.problems.length} problem(s) x ${study.methods.map((m) => m.method).join(', ')}, ${study.max_trials} trials each ` +
    `(${study.search.type}, batches of ${study.batch_size}, ${study.budget.trial_sec} s per trial) on ${card.executor} (max_workers=${card.max_workers}); store ${home}`);
  let done = 0;
  const quiet = o.progress === 'silent';
  try {
    const r = await runStudy({
      study, card, home, signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'reference') {
          if (!quiet) say(e.message);
          return;
        }
        done++;
        const t = e.record!;
        if (quiet) return;
        const what = t.state === 'complete'
          ? `λ̂ ${t.llc_mean?.toPrecision(4)} vs ${t.reference?.toPrecision(4)} (${((t.rel_error ?? 0) * 100).toFixed(1)}%), ${t.total_fge?.toPrecision(3)} FGE`
          : `${t.state}: ${t.error ?? ''} (penalised)`;
        say(`[${done}/${total}] p${t.problem} ${t.method} #${t.number}${e.reused ? ' (reused)' : ''}: ${what}`);
      },
    });
    const outputs = await writeStudyOutputs(r.dir, r.file);
    for (const s of searches(r.file)) {
      const best = bestTrial(s.trials);
      const target = r.file.problems.find((p) => p.index === s.problem)?.target_id ?? 'ID';
      if (!best) {
        process.stdout.write(`${s.method} on problem ${s.problem}: no finished trial\n`);
        continue;
      }
      process.stdout.write(
        `${s.method} on problem ${s.problem} (${target}): best trial ${best.number}: λ̂ ${best.llc_mean?.toPrecision(5)} ± ${best.llc_mcse?.toPrecision(2) ?? '?'} (MCSE) vs reference ${best.reference?.toPrecision(5)} ` +
          `(${((best.rel_error ?? 0) * 100).toFixed(2)}%), ${best.total_fge?.toPrecision(4)} FGE, ${best.walltime_s?.toFixed(2)} s\n` +
          `  lambda-hat sample --target ${target} --sampler ${s.method} ${setLine(best)}\n` +
          `  ${samplerEntryLine(best)}\n`,
      );
    }
    process.stdout.write(
      `\ntrials: ${r.file.trials.length} recorded (${r.reused} reused from the study file, ${r.ran} run by this invocation` +
        `${r.runs_reused > 0 ? `, ${r.runs_reused} of them with their run already in the store` : ''}, ${r.failed} failed or timed out) in ${r.walltime_s.toFixed(1)} s\n` +
        `study: ${join(r.dir, 'study.json')}\ntrials: ${outputs.trials_csv}\npareto: ${outputs.pareto_csv}\neps-beta: ${outputs.eps_beta_csv}\nreport: ${outputs.report}\n`,
    );
    if (r.cancelled) {
      say('interrupted; rerun the same command to resume (finished trials are reused)');
      return 130;
    }
    return r.file.trials.some((t) => t.state === 'complete') ? 0 : 1;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}
