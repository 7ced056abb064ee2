import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticRun } from '../analysis/synthetic.js';
import { writeFileAtomic, writeJsonAtomic } from '../../src/store/index.js';
import { parseCsv, selectRuns } from '../../src/report/collect.js';
import { reportTask } from '../../src/tasks/report.js';
import { buildProgram } from '../../src/cli/index.js';
import type { WorkflowFile } from '../../src/contracts/index.js';

let home: string;
let runs: string[];
let newest: string;
let older: string;

function invocation(name: string, experiment: string, startedAt: string, csv?: string): string {
  const dir = join(home, 'workflows', name);
  const wf: WorkflowFile = { experiment, home, card: { type: 'local' }, started_at: startedAt, tasks: [] };
  writeJsonAtomic(join(dir, 'workflow.json'), wf);
  if (csv !== undefined) writeFileAtomic(join(dir, 'results.csv'), csv);
  return dir;
}

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'lh-collect-'));
  runs = ['run_a', 'run_b', 'run_c'].map((id, i) => writeSyntheticRun(home, { runId: id, draws: 120, seed: 40 + i, sampler: ['sgld', 'hmc', 'mclmc'][i] }));
  const header = 'target,sampler,llc_mean,llc_mcse,r_hat,ess_bulk,walltime,status,run_dir,error\n';
  older = invocation('smoke-20260101T000000-aaaaaa', 'smoke', '2026-01-01T00:00:00.000Z',
    `${header}tgt_synthetic0,sgld,5,0.1,1,400,1,ok,${runs[0]},\n`);
  newest = invocation('smoke-20260102T000000-bbbbbb', 'smoke', '2026-01-02T00:00:00.000Z',
    `${header}tgt_synthetic0,hmc,5,0.1,1,400,1,ok,${runs[1]},\n` +
      `tgt_synthetic0,vi,,,,,,failed,,"sample-t0-s1-vi: task_error: bad ""lr"", at step 3"\n`);
  invocation('other-20260103T000000-cccccc', 'other', '2026-01-03T00:00:00.000Z',
    `${header}tgt_synthetic0,mclmc,5,0.1,1,400,1,ok,${runs[2]},\n`);
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('choosing the runs of a report', () => {
  it('parses the workflow results.csv, quoted cells included', () => {
    const rows = parseCsv('a,b\n1,"x, ""y"""\n"multi\nline",2\n');
    expect(rows).toEqual([{ a: '1', b: 'x, "y"' }, { a: 'multi\nline', b: '2' }]);
  });

  it('an experiment name selects its newest invocation: its runs and its failures only', () => {
    const sel = selectRuns(home, 'smoke');
    expect(sel.invocationDir).toBe(newest);
    expect(sel.runDirs).toEqual([runs[1]]);
    expect(sel.failures).toEqual([
      { target: 'tgt_synthetic0', sampler: 'vi', status: 'failed', error: 'sample-t0-s1-vi: task_error: bad "lr", at step 3' },
    ]);
    expect(selectRuns(home, 'smoke', { all: true }).runDirs.sort()).toEqual([runs[0], runs[1]].sort());
  });

  it('accepts an invocation dir, a run dir, a directory of runs, or nothing (whole store)', () => {
    expect(selectRuns(home, older).runDirs).toEqual([runs[0]]);
    expect(selectRuns(home, runs[2]).runDirs).toEqual([runs[2]]);
    expect(selectRuns(home, join(home, 'runs')).runDirs).toEqual(runs);
    expect(selectRuns(home).runDirs).toEqual(runs);
  });

  it('reads an unfinished invocation from its diagnose task specs', () => {
    const running = invocation('smoke-20260104T000000-dddddd', 'smoke', '2026-01-04T00:00:00.000Z');
    writeJsonAtomic(join(running, 'tasks', 'diagnose-t0-s0-sgld.a1.spec.json'), { kind: 'diagnose', run_dir: runs[0] });
    writeJsonAtomic(join(running, 'tasks', 'sample-t0-s0-sgld.a1.spec.json'), { kind: 'sample', home });
    const sel = selectRuns(home, 'smoke');
    expect(sel.invocationDir).toBe(running);
    expect(sel.runDirs).toEqual([runs[0]]);
    rmSync(running, { recursive: true });
  });

  it('names the problem when an experiment has no invocation', () => {
    expect(() => selectRuns(home, 'nope')).toThrow(/no workflow invocation of experiment 'nope'/);
  });
});

describe('report task and CLI', () => {
  it('the workflow task writes the report of the given runs into the invocation dir', async () => {
    const res = await reportTask({ kind: 'report', home, experiment: 'smoke', invocation_dir: newest, run_dirs: [runs[1]!] });
    expect(res.path).toBe(join(newest, 'report', 'index.html'));
    expect(res.runs).toBe(1);
    const html = readFileSync(res.path, 'utf8');
    expect(html).toContain('data-run-id="run_b"');
    expect(html).not.toContain('data-run-id="run_a"');
  }, 30_000);

  it('`lambda-hat report DIR --out OUT` writes index.html and prints its path', async () => {
    const out = join(home, 'cli-report');
    const chunks: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const errWrite = process.stderr.write.bind(process.stderr);
    // Capture the command's stdout (its contract: the report path) for this call only.
    process.stdout.write = ((c: string | Uint8Array) => (chunks.push(String(c)), true)) as typeof process.stdout.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      await buildProgram().exitOverride().parseAsync(['node', 'lambda-hat', 'report', older, '--out', out, '--title', 'CLI report']);
    } finally {
      process.stdout.write = write;
      process.stderr.write = errWrite;
    }
    expect(chunks.join('').trim()).toBe(join(out, 'index.html'));
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toContain('<title>CLI report</title>');
    expect(html).toContain('data-run-id="run_a"');
    expect(existsSync(join(out, 'plots', 'run_a', 'trace_llc.png'))).toBe(true);
  }, 30_000);
});
