import type { Command } from 'commander';
import { resolve } from 'node:path';
import { invocationFiles, reportsDir, storeHome } from '../store/layout.js';
import { selectRuns } from '../report/collect.js';
import { writeReport } from '../report/index.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description(
      'Static HTML report (no network needed): table of targets x samplers with λ̂ ± MCSE, R-hat, ESS, ' +
        'work, wall time, truth where known and warnings, plus every run\'s plots and configs. ' +
        'EXPERIMENT is an experiment name (its newest workflow invocation), a workflow invocation dir, ' +
        'a run dir or a directory of run dirs; without it, every run in the store.',
    )
    .argument('[experiment]', 'experiment name or directory')
    .option('--out <dir>', 'output directory (default: <invocation>/report, else <home>/reports/<name>)')
    .option('--all', 'with an experiment name: the runs of all its invocations, not only the newest')
    .option('--title <text>', 'page title')
    .option('--no-diagnose', 'do not (re)diagnose runs whose analysis is missing or stale')
    .action(async (experiment: string | undefined, opts: { out?: string; all?: boolean; title?: string; diagnose: boolean }) => {
      const home = storeHome();
      const sel = selectRuns(home, experiment, { all: opts.all === true });
      const outDir = resolve(
        opts.out ??
          (sel.invocationDir !== undefined && !opts.all
            ? invocationFiles(sel.invocationDir).report
            : reportsDir(home, experiment ?? 'all')),
      );
      const res = await writeReport({
        runDirs: sel.runDirs,
        outDir,
        title: opts.title ?? `lambda-hat report: ${sel.experiment ?? sel.label}`,
        failures: sel.failures,
        diagnose: opts.diagnose,
      });
      const warned = res.rows.filter((r) => (r.analysis?.warnings.length ?? 0) > 0).length;
      const broken = res.rows.filter((r) => r.error !== null);
      process.stderr.write(
        `${res.rows.length} runs, ${warned} with warnings, ${broken.length} without analysis, ${sel.failures.length} failed pairs\n`,
      );
      for (const r of broken) process.stderr.write(`  ${r.run_id}: ${r.error}\n`);
      process.stdout.write(`${res.path}\n`);
    });
}
