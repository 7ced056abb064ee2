/**
 * The real stages (build -> sample -> diagnose) through the workflow: Ctrl-C and resume,
 * content-addressed reruns, and the same λ̂ on the process, thread and SLURM executors.
 * One store per executor, so every executor really computes everything.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tableFromIPC } from 'apache-arrow';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCard } from '../../src/config/cards.js';
import { loadExperiment } from '../../src/config/experiment.js';
import { slurmAvailable } from '../../src/executors/slurm.js';
import { runWorkflow, type WorkflowResult } from '../../src/workflow/index.js';
import { buildTask } from '../../src/tasks/build.js';
import { sampleTask } from '../../src/tasks/sample.js';
import { loadRun } from '../../src/analysis/run.js';
import { analyzeRun } from '../../src/analysis/index.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const EXPERIMENT = resolve(here, '../fixtures/tiny-experiment.yaml');
const CLI = resolve(here, '../fixtures/cli.ts');
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const exp = loadExperiment(EXPERIMENT);
const slurm = await slurmAvailable();

const homes = { processes: mkdtempSync(join(tmpdir(), 'lh-wf-proc-')) };

/**
 * λ̂ of each sampler computed in this process by the stage functions themselves: what every
 * executor must reproduce. Set up once, so no test depends on another test's outcome.
 */
const reference: Array<[string, number | null]> = [];
beforeAll(async () => {
  const home = mkdtempSync(join(tmpdir(), 'lh-wf-ref-'));
  try {
    const built = await buildTask({ kind: 'build', home, target: exp.targets[0]!.config });
    for (const s of exp.samplers) {
      const run = await sampleTask({ kind: 'sample', home, target_id: built.target_id, sampler: s });
      reference.push([s.name, analyzeRun(loadRun(run.dir), { inputsHash: '' }).llc_mean]);
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}, 120_000);

/** Processes whose command line mentions `needle` (read-only scan of /proc). */
function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(needle)) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

function llcs(rows: WorkflowResult['rows']): Array<[string, number | null]> {
  return rows.map((r) => [r.sampler, r.llc_mean]);
}

describe('workflow llc with the real stages', () => {
  it('Ctrl-C stops submitting, kills workers and exits 130; rerunning completes only what is missing', async () => {
    const home = homes.processes;
    const child = spawn(process.execPath, ['--import', TSX, CLI, 'workflow', 'llc', '--config', EXPERIMENT, '--set', 'max_workers=2', '--progress', 'plain'], {
      env: { ...process.env, LAMBDA_HAT_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const sampling = new Promise<void>((res) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/sample .* started/.test(stderr)) res();
      });
    });
    const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    await sampling;
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/interrupted: stopping submissions/);
    expect(stderr).toMatch(/rerun the same command to complete only what is missing/);
    const runDir = /run dir: (\S+)/.exec(stdout)![1]!;
    // No worker outlives the coordinator.
    expect(processesMentioning(runDir)).toEqual([]);
    const csv = readFileSync(join(runDir, 'results.csv'), 'utf8');
    expect(csv).toMatch(/cancelled/);
    // Nothing partial is read as complete: no run has a manifest without its traces.
    const runsDir = join(home, 'runs');
    for (const r of existsSync(runsDir) ? readdirSync(runsDir) : []) {
      if (r.includes('.tmp-')) continue;
      expect(existsSync(join(runsDir, r, 'traces.feather'))).toBe(true);
    }

    // Resume in-process: the built target is reused, the rest runs.
    const card = loadCard('local', ['max_workers=2']);
    const resumed = await runWorkflow({ experiment: exp, card, home, progress: 'silent' });
    expect(resumed.rows.map((r) => r.status)).toEqual(['ok', 'ok']);
    expect(resumed.outcomes.get('build-t0')!.cached).toBe(true);
    for (const r of resumed.rows) expect(r.llc_mean).toEqual(expect.any(Number));
    expect(llcs(resumed.rows)).toEqual(reference);

    // Results of THIS invocation, in both formats.
    const feather = tableFromIPC(readFileSync(resumed.files.feather));
    expect(feather.numRows).toBe(2);
    expect([...feather.getChild('sampler')!.toArray()]).toEqual(['hmc', 'sgld']);
    expect(feather.getChild('llc_mean')!.get(0)).toBe(resumed.rows[0]!.llc_mean);
    expect(readFileSync(resumed.files.csv, 'utf8').trim().split('\n')).toHaveLength(3);
    // Per-task logs.
    expect(readdirSync(join(resumed.runDir, 'logs'))).toEqual(
      expect.arrayContaining(['sample-t0-s0-hmc.out', 'sample-t0-s0-hmc.err', 'diagnose-t0-s1-sgld.err']),
    );

    // A finished workflow reruns without running anything.
    const again = await runWorkflow({ experiment: exp, card, home, progress: 'silent' });
    expect([...again.outcomes.values()].every((o) => o.cached)).toBe(true);
    expect(again.rows).toEqual(resumed.rows);
    expect(again.runDir).not.toBe(resumed.runDir);

    // A worker killed mid-write leaves a temp dir and no run: only that run is redone.
    const sgldRun = resumed.rows[1]!.run_dir!;
    rmSync(sgldRun, { recursive: true });
    mkdirSync(`${sgldRun}.tmp-999999-deadbeef`, { recursive: true });
    writeFileSync(`${sgldRun}.tmp-999999-deadbeef/manifest.json`, '{"partial": tru');
    const repaired = await runWorkflow({ experiment: exp, card, home, progress: 'silent' });
    const ran = [...repaired.outcomes.values()].filter((o) => !o.cached).map((o) => o.id).sort();
    expect(ran).toEqual(['diagnose-t0-s1-sgld', 'sample-t0-s1-sgld']);
    expect(llcs(repaired.rows)).toEqual(llcs(resumed.rows));
  }, 240_000);

  it('gives identical λ̂ on the thread executor', async () => {
    const home = mkdtempSync(join(tmpdir(), 'lh-wf-threads-'));
    const r = await runWorkflow({ experiment: exp, card: loadCard('local-threads', ['max_workers=2']), home, progress: 'silent' });
    expect(r.rows.map((x) => x.status)).toEqual(['ok', 'ok']);
    expect([...r.outcomes.values()].some((o) => o.cached)).toBe(false);
    expect(llcs(r.rows)).toEqual(reference);
  }, 90_000);

  it('gives identical λ̂ on SLURM', async (ctx) => {
    if (!slurm.ok) ctx.skip(`no SLURM cluster: ${slurm.reason}`);
    const home = mkdtempSync(join(tmpdir(), 'lh-wf-slurm-'));
    const r = await runWorkflow({ experiment: exp, card: loadCard('slurm/cpu', ['mem_per_node=1']), home, progress: 'silent' });
    expect(r.rows.map((x) => x.status)).toEqual(['ok', 'ok']);
    const sample = r.outcomes.get('sample-t0-s0-hmc')!;
    expect(sample.job_id).toMatch(/^\d+$/);
    expect(llcs(r.rows)).toEqual(reference);
  }, 90_000);
});
