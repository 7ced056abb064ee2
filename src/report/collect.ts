/**
 * Which runs a report shows. A workflow invocation lives in its own directory
 * (`<home>/workflows/<experiment>-<time>-<rand>/` by default, see src/workflow) with
 * `workflow.json` (experiment name, start time), and once finished `results.csv` (one row per
 * target x sampler of that invocation only, with `run_dir`, `status` and `error`).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { invocationFiles, invocationsDir, runFiles, runsDir } from '../store/layout.js';
import {
  diagnoseTaskSpec, parseContract, resultCsvRow, tryReadContractFile, workflowFile, type FailedPair,
} from '../contracts/index.js';

export type { FailedPair };

export interface RunSelection {
  /** What was selected, for the page title and messages. */
  label: string;
  runDirs: string[];
  /** Target x sampler pairs of the invocation that produced no usable run. */
  failures: FailedPair[];
  /** The invocation directory, when the selection is one invocation. */
  invocationDir?: string;
  experiment?: string;
}

/** RFC 4180 CSV (quoted cells with doubled quotes), as src/workflow/results.ts writes it. */
export function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(cell), (cell = '');
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  if (cell !== '' || row.length > 0) row.push(cell), rows.push(row);
  const [header, ...body] = rows;
  if (!header) return [];
  return body
    .filter((r) => r.length > 1 || (r[0] ?? '') !== '')
    .map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}

function isRunDir(dir: string): boolean {
  return existsSync(runFiles(dir).manifest);
}

function isInvocationDir(dir: string): boolean {
  const files = invocationFiles(dir);
  return existsSync(files.workflow) || existsSync(files.resultsCsv);
}

/** Runs of one workflow invocation: results.csv when finished, else its diagnose task specs. */
export function invocationRuns(invocationDir: string): RunSelection {
  const dir = resolve(invocationDir);
  const files = invocationFiles(dir);
  const experiment = tryReadContractFile(files.workflow, workflowFile)?.experiment;
  const runDirs: string[] = [];
  const failures: FailedPair[] = [];
  if (existsSync(files.resultsCsv)) {
    parseCsv(readFileSync(files.resultsCsv, 'utf8')).forEach((cells, i) => {
      const r = parseContract(resultCsvRow, cells, `${files.resultsCsv}: row ${i + 1}`, 'results row');
      if (r.run_dir && isRunDir(r.run_dir)) runDirs.push(r.run_dir);
      if (r.status !== 'ok') failures.push({ target: r.target, sampler: r.sampler, status: r.status, error: r.error });
    });
  } else if (existsSync(files.tasks)) {
    // Still running (a --promote report runs inside the workflow, before results.csv exists):
    // the diagnose specs executors write under tasks/ name the run dirs. A spec being written
    // right now is skipped.
    for (const f of readdirSync(files.tasks).sort()) {
      if (!f.endsWith('.spec.json')) continue;
      const spec = tryReadContractFile(join(files.tasks, f), diagnoseTaskSpec);
      if (spec !== undefined && isRunDir(spec.run_dir)) runDirs.push(spec.run_dir);
    }
  }
  return {
    label: experiment ?? dir,
    runDirs: [...new Set(runDirs)],
    failures,
    invocationDir: dir,
    ...(experiment !== undefined ? { experiment } : {}),
  };
}

/** Invocation directories of an experiment under <home>/workflows, newest first. */
export function experimentInvocations(home: string, experiment: string): string[] {
  const base = invocationsDir(home);
  if (!existsSync(base)) return [];
  const found: { dir: string; started: string }[] = [];
  for (const name of readdirSync(base)) {
    const dir = join(base, name);
    // An unreadable or off-contract workflow.json is not an invocation we can report on.
    const meta = tryReadContractFile(invocationFiles(dir).workflow, workflowFile);
    if (meta?.experiment === experiment) found.push({ dir, started: meta.started_at });
  }
  return found.sort((a, b) => (a.started < b.started ? 1 : a.started > b.started ? -1 : 0)).map((f) => f.dir);
}

/** Every run directory directly under dir (e.g. <home>/runs). */
export function runDirsIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((n) => join(dir, n))
    .filter((d) => statSync(d).isDirectory() && isRunDir(d));
}

/**
 * `report [EXPERIMENT]`: a path (a run dir, an invocation dir, or a directory of run dirs),
 * else an experiment name (its newest invocation, or all of them with `all`), else, with no
 * argument, every run in the store.
 */
export function selectRuns(home: string, what?: string, opts: { all?: boolean } = {}): RunSelection {
  if (what === undefined) {
    return { label: 'all runs', runDirs: runDirsIn(runsDir(home)), failures: [] };
  }
  const asPath = resolve(what);
  if (existsSync(asPath) && statSync(asPath).isDirectory()) {
    if (isRunDir(asPath)) return { label: asPath, runDirs: [asPath], failures: [] };
    if (isInvocationDir(asPath)) return invocationRuns(asPath);
    const runs = runDirsIn(asPath);
    if (runs.length > 0) return { label: asPath, runDirs: runs, failures: [] };
    throw new Error(`${asPath} holds no runs: expected a run dir, a workflow invocation dir or a directory of run dirs`);
  }
  const invocations = experimentInvocations(home, what);
  if (invocations.length === 0) {
    throw new Error(
      `no workflow invocation of experiment '${what}' under ${invocationsDir(home)} ` +
        '(and no directory of that name); run `lambda-hat workflow llc --config FILE` first, ' +
        'or pass a run directory or an invocation directory',
    );
  }
  if (!opts.all) return invocationRuns(invocations[0]!);
  const all = invocations.map(invocationRuns);
  return {
    label: `${what} (all ${invocations.length} invocations)`,
    runDirs: [...new Set(all.flatMap((s) => s.runDirs))],
    failures: all.flatMap((s) => s.failures),
    experiment: what,
  };
}
