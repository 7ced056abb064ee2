import type { Command } from 'commander';
import { diagnoseTask, readAnalysis } from '../tasks/diagnose.js';
import type { Analysis, Diagnosis } from '../contracts/index.js';

function fmt(v: number | null, digits = 4): string {
  if (v === null) return '-';
  return String(Number(v.toPrecision(digits)));
}

/** The on-screen summary: the estimate, its diagnostics, and every warning spelled out. */
export function diagnoseSummary(outcome: Diagnosis, a: Analysis): string {
  const lines = [
    `${outcome.run_dir}${outcome.reused ? ' (up to date, reused; --force to redo)' : ''}`,
    `  target ${a.target_id ?? '?'}  sampler ${a.sampler ?? '?'}  ${a.chains} chains x ${a.draws} draws (burn-in ${a.burn_in})`,
    `  llc ${fmt(a.llc_mean)} ± ${fmt(a.llc_mcse, 2)} (MCSE)  sd ${fmt(a.llc_std)}  R-hat ${fmt(a.r_hat)}  ` +
      `ESS bulk ${fmt(a.ess_bulk, 3)} tail ${fmt(a.ess_tail, 3)}`,
    `  work ${fmt(a.total_fge, 6)} FGE  wall ${fmt(a.walltime_s, 3)} s`,
    `  analysis ${outcome.analysis_path}, ${a.plots.length / 2} plots in plots/`,
  ];
  if (a.warnings.length === 0) lines.push('  no warnings');
  for (const w of a.warnings) lines.push(`  WARNING: ${w}`);
  return lines.join('\n') + '\n';
}

export function registerDiagnose(program: Command): void {
  program
    .command('diagnose')
    .description(
      'R-hat, ESS, MCSE and plots of a run: writes RUN_DIR/analysis.json and RUN_DIR/plots/*.svg|png ' +
        '(reused when its inputs are unchanged), and warns when the estimate should not be trusted',
    )
    .argument('<run_dirs...>', 'run directories (<home>/runs/<id>)')
    .option('--force', 'recompute even when analysis.json is up to date')
    .option('--json', 'print the analysis.json contents instead of a summary')
    .action(async (runDirs: string[], opts: { force?: boolean; json?: boolean }) => {
      for (const dir of runDirs) {
        const outcome = await diagnoseTask({ kind: 'diagnose', run_dir: dir, force: opts.force === true });
        const analysis = readAnalysis(outcome.run_dir);
        if (opts.json) process.stdout.write(JSON.stringify(analysis, null, 2) + '\n');
        else process.stdout.write(diagnoseSummary(outcome, analysis));
      }
    });
}
