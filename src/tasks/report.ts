/**
 * The report task (`workflow llc --promote`): the HTML report of one workflow invocation, as
 * its spec (src/contracts/tasks.ts) says: which runs, and where the page goes.
 */
import { writeReport } from '../report/index.js';
import { invocationRuns, selectRuns, type RunSelection } from '../report/collect.js';
import { invocationFiles, reportsDir } from '../store/layout.js';
import type { ReportTaskResult, ReportTaskSpec } from '../contracts/index.js';

export async function reportTask(spec: ReportTaskSpec): Promise<ReportTaskResult> {
  let sel: RunSelection;
  if (spec.run_dirs !== undefined) {
    sel = {
      label: spec.experiment ?? 'runs',
      runDirs: spec.run_dirs,
      failures: spec.failures ?? [],
      ...(spec.invocation_dir !== undefined ? { invocationDir: spec.invocation_dir } : {}),
    };
  } else if (spec.invocation_dir !== undefined) {
    sel = invocationRuns(spec.invocation_dir);
  } else {
    sel = selectRuns(spec.home, spec.experiment);
  }
  const outDir =
    spec.out_dir ??
    (sel.invocationDir !== undefined
      ? invocationFiles(sel.invocationDir).report
      : reportsDir(spec.home, spec.experiment ?? sel.experiment ?? 'all'));
  const res = await writeReport({
    runDirs: sel.runDirs,
    outDir,
    title: spec.title ?? `lambda-hat report: ${sel.experiment ?? spec.experiment ?? sel.label}`,
    failures: [...sel.failures, ...(spec.run_dirs !== undefined ? [] : spec.failures ?? [])],
    ...(spec.config !== undefined ? { config: spec.config } : {}),
  });
  return {
    path: res.path,
    runs: res.rows.length,
    with_warnings: res.rows.filter((r) => (r.analysis?.warnings.length ?? 0) > 0).length,
    failed: res.rows.filter((r) => r.error !== null).length,
  };
}
