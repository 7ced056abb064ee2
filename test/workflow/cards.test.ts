import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultLocalCard, loadCard, parseCard } from '../../src/config/cards.js';
import { exportsOf } from '../../src/executors/threads.js';
import { jobScript, sbatchDirectives } from '../../src/executors/slurm.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'lh-cards-'));

describe('executor cards', () => {
  it('accepts the seed card as written and maps local_htex to the process pool', () => {
    const c = loadCard('config/parsl/local-htex.yaml', ['max_workers=3']);
    expect(c.source).toMatch(/config\/cards\/local-htex\.yaml$/);
    expect(c).toMatchObject({ type: 'local_htex', executor: 'processes', label: 'htex_local', retries: 1, run_dir: 'parsl_runinfo', max_workers: 3 });
    expect(c.worker_init).toBe('export MPLBACKEND=Agg\nexport JAX_DEFAULT_PRNG_IMPL=threefry2x32');
  });

  it('ships local (processes), local-threads and slurm/cpu cards; --local defaults to processes', () => {
    expect(defaultLocalCard().executor).toBe('processes');
    expect(loadCard('local').executor).toBe('processes');
    expect(loadCard('local-threads').executor).toBe('threads');
    const s = loadCard('slurm/cpu', ['partition=gpu', 'walltime=01:00:00']);
    expect(s).toMatchObject({ executor: 'slurm', partition: 'gpu', walltime: '01:00:00', mem_per_node: 2 });
    expect(parseCard('type: local\n', 'x.yaml').executor).toBe('processes');
  });

  it('names file, line and nearest key for an unknown key, in the file and in --set', () => {
    const dir = tmp();
    const f = join(dir, 'card.yaml');
    writeFileSync(f, 'type: local_htex\nlabel: x\nmax_workrs: 4\n');
    expect(() => loadCard(f)).toThrow(`${f}:3: max_workrs: unknown key 'max_workrs' (did you mean 'max_workers'?)`);
    expect(() => loadCard('local', ['retires=2'])).toThrow(/--set retires=2: 'retires' is not a card key \(did you mean 'retries'\?\)/);
    writeFileSync(f, 'type: local\nretries: 1\npartition: debug\n');
    expect(() => loadCard(f)).toThrow(`${f}:3: partition: only applies to type: slurm`);
    writeFileSync(f, 'type: kubernetes\n');
    expect(() => loadCard(f)).toThrow(new RegExp(`${f}:1: type: must be one of "local", "local_htex"`));
    expect(() => loadCard('no-such-card')).toThrow(/card no-such-card not found.*shipped cards: local, local-threads/);
  });

  it('threads honour only export lines of worker_init', () => {
    expect(exportsOf('export A=1\n# comment\nexport B="two words"\n')).toEqual({ A: '1', B: 'two words' });
    expect(() => exportsOf('module load cuda')).toThrow(/cannot run in a worker thread.*local_processes/);
  });

  it('turns SLURM card keys into #SBATCH lines and puts worker_init before the worker', () => {
    const lines = sbatchDirectives({
      partition: 'gpu', walltime: '00:10:00', cores_per_node: 4, mem_per_node: 1.5, gpus_per_node: 2, gpu_type: 'a100',
      account: 'acc', qos: 'hi', constraint: 'skylake', scheduler_options_extra: '--exclusive\n#SBATCH --nice=5',
    });
    expect(lines).toEqual([
      '#SBATCH --nodes=1', '#SBATCH --ntasks=1', '#SBATCH --cpus-per-task=4', '#SBATCH --partition=gpu',
      '#SBATCH --time=00:10:00', '#SBATCH --mem=1536M', '#SBATCH --gres=gpu:a100:2', '#SBATCH --account=acc',
      '#SBATCH --qos=hi', '#SBATCH --constraint=skylake', '#SBATCH --exclusive', '#SBATCH --nice=5',
    ]);
    const script = jobScript({
      name: 'lh-x', chdir: '/r', slurm: {}, workerInit: 'export MPLBACKEND=Agg',
      files: { spec: "/r/it's.spec.json", result: '/r/x.result.json', out: '/r/x.out', err: '/r/x.err' },
      entry: { node: '/usr/bin/node', execArgv: [], file: '/p/dist/tasks/child.js', fromSource: false },
    });
    expect(script.indexOf('export MPLBACKEND=Agg')).toBeLessThan(script.indexOf('exec '));
    expect(script).toContain(`exec '/usr/bin/node' '/p/dist/tasks/child.js' '/r/it'\\''s.spec.json' '/r/x.result.json'`);
  });
});
