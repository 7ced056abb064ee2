/**
 * `lambda-hat workflow llc --config FILE [--local | --parsl-card CARD | --card CARD] [--set k=v]... [--promote]`
 *
 * With no --config: the shipped demo (config/demo.yaml), which also writes the HTML report. A
 * --config that is not a file may name a shipped experiment (`--config smoke` is
 * config/smoke.yaml, the Python system's smoke file). With no card, or --local: the local
 * process pool (config/cards/local.yaml). `--set` applies to the card.
 * Exit status: 0 when every task succeeded, 1 when any failed, 130 after Ctrl-C.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { defaultLocalCard, loadCard, packageRoot, type Card } from '../config/cards.js';
import { loadExperiment } from '../config/experiment.js';
import { formatConfigError } from '../config/load.js';
import { storeHome } from '../store/index.js';
import { runWorkflow } from '../workflow/index.js';
import { disagreementLines, summaryTable } from '../workflow/results.js';

interface LlcOptions {
  config?: string;
  local?: boolean;
  card?: string;
  parslCard?: string;
  set: string[];
  promote?: boolean;
  progress?: 'auto' | 'plain' | 'silent';
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

export function resolveCardOption(o: Pick<LlcOptions, 'card' | 'parslCard' | 'set'>): Card {
  if (o.card && o.parslCard && o.card !== o.parslCard) {
    throw new Error(`--card ${o.card} and --parsl-card ${o.parslCard} are the same option: give one`);
  }
  const ref = o.card ?? o.parslCard;
  return ref ? loadCard(ref, o.set) : defaultLocalCard(o.set);
}

export function registerWorkflow(program: Command): void {
  const wf = program.command('workflow').description('Run experiments as task graphs on an executor');
  wf.command('llc')
    .description('Plan targets x samplers from an experiment file and run build -> sample -> diagnose (-> report)')
    .option('--config <file>', 'experiment file, or a shipped one by name: demo (the default, config/demo.yaml) or smoke')
    .option('--local', 'run on the local process pool (the default unless a card says otherwise)')
    .option('--card <card>', 'executor card: a path or a shipped name (local, local-threads, local-htex, slurm/cpu)')
    .option('--parsl-card <card>', 'same as --card (the Python system\'s name)')
    .option('--set <key=value>', 'override a card key, e.g. --set max_workers=4 (repeatable)', collect, [])
    .option('--promote', 'also write the HTML report when the runs are diagnosed (the default for the demo)')
    .option('--no-promote', 'no HTML report')
    .option('--progress <mode>', 'auto (redraw on a terminal), plain (lines) or silent', 'auto')
    .action(async (o: LlcOptions) => {
      const code = await workflowLlc(o);
      process.exitCode = code;
    });
}

export async function workflowLlc(o: LlcOptions): Promise<number> {
  let card: Card;
  let experiment: ReturnType<typeof loadExperiment>;
  const configPath = resolveExperimentPath(o.config);
  try {
    card = resolveCardOption(o);
    experiment = loadExperiment(configPath);
  } catch (err) {
    process.stderr.write(`lambda-hat workflow: ${formatConfigError(err)}\n`);
    return 2;
  }
  const home = storeHome();
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
      `on ${card.executor} (${card.source}, max_workers=${card.max_workers}, retries=${card.retries}); store ${home}\n`,
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
