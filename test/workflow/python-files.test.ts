/**
 * The Python system's files through the real workflow: its smoke files and parsl test config
 * run end to end on processes (with its own local card) and on threads, giving the same λ̂;
 * `workflow sample --backend ... --dry-run` plans without writing anything; a config error
 * exits 2 with file:line before any task exists and never reaches an executor.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCard, type Card } from '../../src/config/cards.js';
import { derivedSamplerSeed, loadExperiment } from '../../src/config/experiment.js';
import { ConfigError } from '../../src/config/load.js';
import { prepareWorkflow } from '../../src/cli/workflow.js';
import { dryRun, renderDryRun, type DryRunPlan } from '../../src/workflow/dry-run.js';
import { runWorkflow, type WorkflowResult } from '../../src/workflow/index.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const REF = resolve(here, '../fixtures/python-lambda-hat');
const ref = (name: string): string => join(REF, name);
const CLI = resolve(here, '../fixtures/cli.ts');
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

function cli(args: string[], env: NodeJS.ProcessEnv, cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', TSX, CLI, ...args], { env: { ...process.env, ...env }, cwd, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const llcs = (r: WorkflowResult): Array<[string, number | null]> => r.rows.map((x) => [x.sampler, x.llc_mean]);

/**
 * The small files, each with the --set that keeps the test short (the unchanged runs are timed
 * in the README): config/experiments_smoke.yaml trains for 200 steps and optimises VI for 1000.
 */
const SMALL: Array<{ file: string; sets: string[]; samplers: string[] }> = [
  { file: 'config__smoke.yaml', sets: [], samplers: ['hmc', 'mclmc', 'sgld', 'vi'] },
  {
    file: 'config__experiments_smoke.yaml',
    sets: ['targets.0.overrides.training.steps=50', 'samplers.3.overrides.steps=200'],
    samplers: ['hmc', 'mclmc', 'sgld', 'vi'],
  },
  { file: 'tests__test_parsl_workflow_config.yaml', sets: [], samplers: ['vi'] },
];

describe('the Python system\'s small files run end to end', () => {
  const processRows = new Map<string, WorkflowResult>();
  const cards: Array<[string, () => Card]> = [
    // Its own local card: type local with an executors list (max_workers: null, cores_per_worker).
    ['processes', () => loadCard(ref('config__parsl_local.yaml'))],
    ['threads', () => loadCard('local-threads', ['max_workers=1'])],
  ];
  for (const [executor, card] of cards) {
    for (const { file, sets, samplers } of SMALL) {
      it(`${file} on ${executor}`, async () => {
        const home = mkdtempSync(join(tmpdir(), `lh-py-${executor}-`));
        const c = card();
        expect(c.executor).toBe(executor);
        const exp = loadExperiment(ref(file), sets);
        const r = await runWorkflow({ experiment: exp, card: c, home, progress: 'silent' });
        expect(r.rows.map((x) => [x.sampler, x.status])).toEqual(samplers.map((s) => [s, 'ok']));
        for (const row of r.rows) expect(row.llc_mean).toEqual(expect.any(Number));
        expect([...r.outcomes.values()].some((o) => o.cached)).toBe(false);
        // The plan records each sampler's seed and where it came from, and the config notes.
        const plan = JSON.parse(readFileSync(join(r.runDir, 'workflow.json'), 'utf8')) as {
          samplers: Array<{ seed: number; seed_source: string }>;
          config_notes: Array<{ kind: string; key: string }>;
        };
        expect(plan.samplers.map((s) => s.seed)).toEqual(exp.samplers.map((s) => s.seed));
        expect(plan.config_notes.length).toBe(exp.origin!.log.notes.length);
        if (executor === 'processes') processRows.set(file, r);
        else expect(llcs(r)).toEqual(llcs(processRows.get(file)!));
      }, 180_000);
    }
  }
});

describe('a config error is found before any work starts', () => {
  it('never reaches an executor, never creates a run directory, names file:line and key', async () => {
    const home = mkdtempSync(join(tmpdir(), 'lh-py-bad-'));
    const f = join(home, 'bad.yaml');
    // config/smoke.yaml's VI entry with a misspelt key under overrides.
    writeFileSync(f, readFileSync(ref('config__smoke.yaml'), 'utf8').replace('      algo: mfa', '      algoo: mfa'));
    const exp = loadExperiment(f);
    let executors = 0;
    const err = await runWorkflow({
      experiment: exp, card: loadCard('local-threads'), home, progress: 'silent',
      executor: () => {
        executors++;
        throw new Error('an executor was made');
      },
    }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe(`${f}:53: samplers.3.overrides.algoo: unknown key 'algoo' for sampler vi (did you mean 'algo'?)`);
    expect(executors).toBe(0);
    expect(readdirSync(home)).toEqual(['bad.yaml']);
  });

  it('the CLI exits 2 with the located error and writes nothing', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'lh-py-cli-'));
    const f = join(cwd, 'typo.yaml');
    writeFileSync(f, readFileSync(ref('config__experiments_smoke.yaml'), 'utf8').replace('num_samples: 50', 'num_sampels: 50'));
    const r = cli(['workflow', 'sample', '--config', f, '--backend', 'local'], { LAMBDA_HAT_HOME: join(cwd, 'home') }, cwd);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`lambda-hat workflow: ${f}:25: samplers.0.overrides.num_sampels: unknown key 'num_sampels' for sampler hmc (did you mean 'num_samples'?)`);
    expect(readdirSync(cwd)).toEqual(['typo.yaml']);
  });
});

describe('workflow sample --backend ... --dry-run', () => {
  it('plans config/experiments.yaml on the SLURM GPU backend without writing anything', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'lh-py-dry-'));
    const env = { LAMBDA_HAT_HOME: '', LAMBDA_HAT_BACKEND: '' };
    const r = cli(['workflow', 'sample', '--config', ref('config__experiments.yaml'), '--backend', 'slurm-gpu', '--dry-run', '--json'], env, cwd);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const plan = JSON.parse(r.stdout) as DryRunPlan;
    // store_root rules when LAMBDA_HAT_HOME is not set; nothing is created there.
    expect(plan.store.home).toBe(join(cwd, 'runs'));
    expect(plan.store.rule).toMatch(/^store_root 'runs' \(.*config__experiments\.yaml:17\); LAMBDA_HAT_HOME is not set$/);
    expect(readdirSync(cwd)).toEqual([]);
    expect(plan.card).toMatchObject({ executor: 'slurm', note: expect.stringMatching(/compute on CPUs.*slurm\/cpu/) });
    expect(plan.samplers.map((s) => [s.name, s.seed, s.seed_source])).toEqual([
      ['hmc', derivedSamplerSeed('dev', 0), 'derived'], ['mclmc', derivedSamplerSeed('dev', 1), 'derived'],
      ['sgld', 12345, 'file'], ['vi', 54321, 'file'],
    ]);
    expect(plan.samplers[3]!.from_python).toEqual({ 'overrides.family': 'algo', 'posterior.gamma': 'gamma' });
    expect(plan.pairs.filter((p) => p.sampler_index === 3).map((p) => p.posterior.gamma)).toEqual([0.001, 0.001]);
    expect(plan.tasks.map((t) => t.id)).toEqual([
      'build-t0',
      'sample-t0-s0-hmc', 'diagnose-t0-s0-hmc', 'sample-t0-s1-mclmc', 'diagnose-t0-s1-mclmc',
      'sample-t0-s2-sgld', 'diagnose-t0-s2-sgld', 'sample-t0-s3-vi', 'diagnose-t0-s3-vi',
      'build-t1',
      'sample-t1-s0-hmc', 'diagnose-t1-s0-hmc', 'sample-t1-s1-mclmc', 'diagnose-t1-s1-mclmc',
      'sample-t1-s2-sgld', 'diagnose-t1-s2-sgld', 'sample-t1-s3-vi', 'diagnose-t1-s3-vi',
    ]);
    expect(plan.tasks.every((t) => t.state === 'to run')).toBe(true);
  });

  it('shows what the store already holds, the Python card\'s sbatch lines, and refuses unknown backends', async () => {
    const home = mkdtempSync(join(tmpdir(), 'lh-py-done-'));
    const file = ref('tests__test_parsl_workflow_config.yaml');
    await runWorkflow({ experiment: loadExperiment(file), card: loadCard('local-threads'), home, progress: 'silent' });
    const o = { config: file, parslCard: ref('config__parsl_slurm_cpu.yaml'), set: [], dryRun: true };
    const p = await prepareWorkflow(o, { LAMBDA_HAT_HOME: home }, home);
    const text = renderDryRun(await dryRun({ exp: p.experiment, validated: p.validated, card: p.card, store: p.store }));
    expect(text).toMatch(/Tasks \(3, 0 to run, 3 already done in the store\)/);
    expect(text).toMatch(/store {7}.* \(LAMBDA_HAT_HOME rules: the file's store_root 'test_runs_parsl' .*:3\) is not used\)/);
    expect(text).toContain('200 at once (jobs at once = max_blocks 200 x nodes_per_block 1 x max_workers 1)');
    expect(text).toContain('sbatch      --nodes=1 --ntasks=1 --cpus-per-task=2 --partition=normal --time=01:59:00 --mem=65536M');
    expect(existsSync(join(home, 'test_runs_parsl'))).toBe(false);
    await expect(prepareWorkflow({ config: file, backend: 'gpu', set: [] }, {}, home)).rejects.toThrow('--backend gpu: must be one of local, slurm-cpu, slurm-gpu');
    await expect(prepareWorkflow({ config: file, set: [] }, { LAMBDA_HAT_BACKEND: 'slurm-cpu' }, home)).resolves.toMatchObject({
      card: { executor: 'slurm' }, backendNote: 'backend slurm-cpu from LAMBDA_HAT_BACKEND',
    });
    await expect(prepareWorkflow({ config: file, backend: 'slurm-cpu', local: true, set: [] }, {}, home)).rejects.toThrow('--local and --backend slurm-cpu disagree');
    // --set goes to the experiment under its own keys, to the card otherwise.
    const q = await prepareWorkflow({ config: file, backend: 'local', set: ['samplers.0.overrides.steps=4', 'max_workers=1', 'experiment=renamed'] }, {}, home);
    expect([q.experiment.samplers[0]!.overrides, q.card.max_workers, q.experiment.experiment]).toEqual([{ steps: 4, M: 2, r: 1 }, 1, 'renamed']);
  }, 120_000);
});
