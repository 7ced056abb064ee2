// `npm run bench workflow`: the workflow on each executor, measured on the compiled package
// (dist/, rebuilt first with tsc) as users run it. Writes bench/results/workflow.json.
//   1. smoke experiment end to end (config/smoke.yaml, fresh store) with processes, threads,
//      SLURM (when `sinfo` works), plus the rerun of the finished workflow (processes), and the
//      demo (the default experiment, with its report) on the default card;
//   2. per-task overhead of each executor: N empty tasks one at a time;
//   3. 2 targets x 4 samplers (smoke samplers, second target = other seed), max_workers 1 vs 2.
// Timings on the shared 2-core machine are noisy: the load average is recorded with them.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { distEntry } from '../src/executors/entry.js';
import { ProcessExecutor } from '../src/executors/processes.js';
import { SlurmExecutor, slurmAvailable } from '../src/executors/slurm.js';
import { ThreadExecutor } from '../src/executors/threads.js';
import type { Executor } from '../src/executors/types.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = join(root, 'test', 'fixtures', 'tasks.mjs');

interface E2E {
  executor: string; card: string; max_workers: number; wall_s: number; exit: number | null; rows: string[];
  /** Task seconds per stage (from the invocation's summary.json): where the time goes. */
  stage_task_s: Record<string, number>;
}

function stageSeconds(stdout: string): Record<string, number> {
  const dir = /run dir: (\S+)/.exec(stdout)?.[1];
  if (!dir) return {};
  const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { tasks: Array<{ id: string; walltime_s: number }> };
  const out: Record<string, number> = {};
  for (const t of s.tasks) {
    const stage = t.id.split('-')[0]!;
    out[stage] = Math.round(((out[stage] ?? 0) + t.walltime_s) * 100) / 100;
  }
  return out;
}

function runCli(home: string, args: string[]): { wall_s: number; exit: number | null; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(root, 'bin', 'lambda-hat.js'), 'workflow', 'llc', '--progress', 'silent', ...args], {
    env: { ...process.env, LAMBDA_HAT_HOME: home },
    encoding: 'utf8',
  });
  const wall_s = (performance.now() - t0) / 1000;
  if (r.status !== 0) console.error(r.stderr);
  return { wall_s, exit: r.status, stdout: r.stdout };
}

function tableRows(stdout: string): string[] {
  return stdout.split('\n').filter((l) => /^tgt_/.test(l)).map((l) => l.replace(/\s+/g, ' ').trim());
}

async function overhead(make: () => Executor, n: number): Promise<{ first_s: number; mean_s: number; median_s: number }> {
  const ex = make();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const o = await ex.run({ key: `empty${i}`, spec: { kind: 'module', module: FIXTURE, export: 'empty' } });
    if (!o.ok) throw new Error(`empty task failed: ${o.error.message}`);
    times.push((performance.now() - t0) / 1000);
  }
  await ex.close();
  const rest = times.slice(1).sort((a, b) => a - b);
  return {
    first_s: times[0]!,
    mean_s: rest.reduce((a, b) => a + b, 0) / rest.length,
    median_s: rest[Math.floor(rest.length / 2)]!,
  };
}

export default async function workflowBench(): Promise<void> {
  console.error('building dist/ (tsc)');
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  const slurm = await slurmAvailable();
  const load_before = loadavg();
  const tmp = (p: string): string => mkdtempSync(join(tmpdir(), p));

  // 1. smoke end to end
  const smoke: E2E[] = [];
  const cards: Array<[string, string]> = [['processes', 'local'], ['threads', 'local-threads']];
  if (slurm.ok) cards.push(['slurm', 'slurm/cpu']);
  let procHome = '';
  for (const [executor, card] of cards) {
    const home = tmp(`lh-bench-${executor}-`);
    if (executor === 'processes') procHome = home;
    const r = runCli(home, ['--config', 'smoke', '--card', card, '--set', 'max_workers=2']);
    smoke.push({ executor, card, max_workers: 2, wall_s: r.wall_s, exit: r.exit, rows: tableRows(r.stdout), stage_task_s: stageSeconds(r.stdout) });
    console.error(`smoke on ${executor}: ${r.wall_s.toFixed(1)} s (exit ${r.exit})`);
  }
  const rerun = runCli(procHome, ['--config', 'smoke', '--card', 'local', '--set', 'max_workers=2']);
  console.error(`smoke rerun (everything reused): ${rerun.wall_s.toFixed(1)} s`);
  // The README's first command: the demo with its report, on the default card.
  const demoRun = runCli(tmp('lh-bench-demo-'), []);
  const demo = { wall_s: demoRun.wall_s, exit: demoRun.exit, rows: tableRows(demoRun.stdout), stage_task_s: stageSeconds(demoRun.stdout) };
  console.error(`demo (default experiment, with report): ${demoRun.wall_s.toFixed(1)} s (exit ${demoRun.exit})`);

  // 2. per-task overhead
  const N = 8;
  const dirs = (name: string) => {
    const r = tmp(`lh-bench-ovh-${name}-`);
    return { tasksDir: join(r, 'tasks'), logsDir: join(r, 'logs') };
  };
  const per_task: Record<string, unknown> = {
    processes: await overhead(() => new ProcessExecutor({ maxWorkers: 1, dirs: dirs('p'), entry: distEntry('child', root) }), N),
    threads: await overhead(() => new ThreadExecutor({ maxWorkers: 1, dirs: dirs('t'), entry: distEntry('thread-worker', root) }), N),
  };
  if (slurm.ok) {
    per_task.slurm = await overhead(() => new SlurmExecutor({ maxWorkers: 1, dirs: dirs('s'), entry: distEntry('child', root), pollMs: 100 }), N);
  }
  console.error(`per-task overhead: ${JSON.stringify(per_task)}`);

  // 3. 2 targets x 4 samplers, max_workers 1 vs 2
  const smokeExp = parse(readFileSync(join(root, 'config', 'smoke.yaml'), 'utf8')) as { experiment: string; targets: Array<Record<string, unknown>> };
  const two = { ...smokeExp, experiment: 'smoke2x4', targets: [smokeExp.targets[0]!, { ...smokeExp.targets[0]!, seed: 43 }] };
  const twoPath = join(tmp('lh-bench-exp-'), 'smoke2x4.yaml');
  writeFileSync(twoPath, stringify(two));
  const scaling: Array<{ max_workers: number; wall_s: number; exit: number | null; stage_task_s: Record<string, number> }> = [];
  for (const w of [1, 2]) {
    const r = runCli(tmp(`lh-bench-w${w}-`), ['--config', twoPath, '--card', 'local', '--set', `max_workers=${w}`]);
    scaling.push({ max_workers: w, wall_s: r.wall_s, exit: r.exit, stage_task_s: stageSeconds(r.stdout) });
    console.error(`2x4 with max_workers=${w}: ${r.wall_s.toFixed(1)} s`);
  }

  const out = join(root, 'bench', 'results', 'workflow.json');
  mkdirSync(dirname(out), { recursive: true });
  const result = {
    command: 'npm run bench workflow',
    machine: { cpus: cpus().length, model: cpus()[0]?.model, load_before, load_after: loadavg() },
    note: 'compiled package (dist/); wall times include process start-up; fresh store per run',
    slurm: slurm.reason,
    smoke_end_to_end: smoke,
    demo_end_to_end: demo,
    smoke_rerun_all_reused: { executor: 'processes', wall_s: rerun.wall_s, exit: rerun.exit },
    per_task_overhead: { tasks: N, ...per_task },
    two_targets_x_four_samplers: scaling,
  };
  writeFileSync(`${out}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
  renameSync(`${out}.tmp`, out);
  console.log(JSON.stringify(result, null, 2));
  console.log(`wrote ${out}`);
}
