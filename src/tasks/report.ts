/**
 * The report task (`workflow llc --promote`): the HTML report of one workflow invocation.
 *
 * The spec says which runs: `run_dirs` (what the workflow knows once its diagnose tasks are
 * done), else `invocation_dir`, else the newest invocation of `experiment` under the store.
 * The page goes to `out_dir`, else `<invocation_dir>/report`, else
 * `<home>/reports/<experiment>`.
 */
import { join } from 'node:path';
import { writeReport } from '../report/index.js';
import { invocationRuns, selectRuns, type FailedPair, type RunSelection } from '../report/collect.js';

export interface ReportSpec {
  kind: 'report';
  home: string;
  experiment?: string;
  invocation_dir?: string;
  run_dirs?: string[];
  out_dir?: string;
  title?: string;
  failures?: FailedPair[];
  /** The experiment config, shown under "configs used". */
  config?: unknown;
}

export interface ReportTaskResult {
  path: string;
  runs: number;
  with_warnings: number;
  failed: number;
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]+/g, '_');
}

export async function reportTask(spec: ReportSpec): Promise<ReportTaskResult> {
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
      ? join(sel.invocationDir, 'report')
      : join(spec.home, 'reports', safeName(spec.experiment ?? sel.experiment ?? 'all')));
  const res = await writeReport({
    home: spec.home,
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
