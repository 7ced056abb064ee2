/**
 * The layout of the artifact store: every path under LAMBDA_HAT_HOME is built here, and only
 * here.
 *
 *   <home>/targets/<target id>/   meta.json  params.safetensors  data.safetensors
 *   <home>/runs/<run id>/         manifest.json  traces.feather  analysis.json  trace.nc  plots/
 *   <home>/<run_dir>/<experiment>-<time>-<id>/   (a workflow invocation; run_dir from the card,
 *                                 default workflows)  workflow.json  results.csv  results.feather
 *                                 summary.json  tasks/  logs/  report/
 *   <home>/reports/<name>/        reports not tied to one invocation
 */
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';

/** Artifact root: the explicit argument, else LAMBDA_HAT_HOME, else ./artifacts. */
export function storeHome(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(explicit ?? env.LAMBDA_HAT_HOME ?? 'artifacts');
}

/** The store's top-level folders of content-addressed artifacts. */
export const TARGETS = 'targets';
export const RUNS = 'runs';
export const REPORTS = 'reports';
/** Where invocation directories go when a card does not say (its run_dir). */
export const DEFAULT_INVOCATIONS = 'workflows';

export function targetsDir(home: string): string {
  return join(home, TARGETS);
}

export function targetDir(home: string, targetId: string): string {
  return join(home, TARGETS, targetId);
}

export const TARGET_FILES = {
  meta: 'meta.json',
  params: 'params.safetensors',
  data: 'data.safetensors',
} as const;

/** The files of a target directory. */
export function targetFiles(dir: string): { meta: string; params: string; data: string } {
  return { meta: join(dir, TARGET_FILES.meta), params: join(dir, TARGET_FILES.params), data: join(dir, TARGET_FILES.data) };
}

export function runsDir(home: string): string {
  return join(home, RUNS);
}

export function runDir(home: string, runId: string): string {
  return join(home, RUNS, runId);
}

export const RUN_FILES = {
  manifest: 'manifest.json',
  traces: 'traces.feather',
  analysis: 'analysis.json',
  /** ArviZ InferenceData of the kept draws, for `arviz.from_netcdf`. */
  traceNc: 'trace.nc',
  plots: 'plots',
} as const;

/** The files of a run directory. */
export function runFiles(dir: string): { manifest: string; traces: string; analysis: string; traceNc: string; plots: string } {
  return {
    manifest: join(dir, RUN_FILES.manifest),
    traces: join(dir, RUN_FILES.traces),
    analysis: join(dir, RUN_FILES.analysis),
    traceNc: join(dir, RUN_FILES.traceNc),
    plots: join(dir, RUN_FILES.plots),
  };
}

/** A plot of a run, relative to the run directory (as analysis.json lists them). */
export function runPlotFile(name: string, ext: 'svg' | 'png'): string {
  return `${RUN_FILES.plots}/${name}.${ext}`;
}

/** The store a run directory <home>/runs/<id> belongs to. */
export function homeOfRun(runDirPath: string): string {
  return dirname(dirname(resolve(runDirPath)));
}

/** <home>/targets/<id> for a run dir <home>/runs/<run id>. */
export function targetDirOfRun(runDirPath: string, targetId: string): string {
  return targetDir(homeOfRun(runDirPath), targetId);
}

/** The id a run or target directory is named by. */
export function artifactId(dir: string): string {
  return basename(resolve(dir));
}

export function reportsDir(home: string, name: string): string {
  return join(home, REPORTS, name.replace(/[^A-Za-z0-9_.-]+/g, '_'));
}

/** Where a card's invocation directories go: its run_dir, under the home unless absolute. */
export function invocationsDir(home: string, cardRunDir: string = DEFAULT_INVOCATIONS): string {
  return isAbsolute(cardRunDir) ? cardRunDir : join(home, cardRunDir);
}

export const INVOCATION_FILES = {
  workflow: 'workflow.json',
  resultsCsv: 'results.csv',
  resultsFeather: 'results.feather',
  summary: 'summary.json',
  tasks: 'tasks',
  logs: 'logs',
  report: 'report',
} as const;

/** The files of a workflow invocation directory. */
export function invocationFiles(dir: string): {
  workflow: string; resultsCsv: string; resultsFeather: string; summary: string; tasks: string; logs: string; report: string;
} {
  return {
    workflow: join(dir, INVOCATION_FILES.workflow),
    resultsCsv: join(dir, INVOCATION_FILES.resultsCsv),
    resultsFeather: join(dir, INVOCATION_FILES.resultsFeather),
    summary: join(dir, INVOCATION_FILES.summary),
    tasks: join(dir, INVOCATION_FILES.tasks),
    logs: join(dir, INVOCATION_FILES.logs),
    report: join(dir, INVOCATION_FILES.report),
  };
}
