/**
 * SLURM failure states that take minutes or a cgroup setup to provoke on a real cluster
 * (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL), and a refused submission, through stand-in sbatch /
 * squeue / scontrol scripts on the executor's PATH. Runs with or without a cluster.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SlurmExecutor } from '../../src/executors/slurm.js';
import { mod, tmpRun } from './helpers.js';

function fakeSlurm(root: string): string {
  const bin = join(root, 'bin');
  const state = join(root, 'state');
  mkdirSync(bin, { recursive: true });
  mkdirSync(state, { recursive: true });
  const script = (name: string, body: string): void => {
    writeFileSync(join(bin, name), `#!/bin/bash\nSTATE=${state}\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  // The job name picks the fate: lh-timeout, lh-oom, lh-nodefail; lh-refused makes sbatch fail.
  script('sbatch', `
name=$(grep -o -- '--job-name=[^ ]*' "\${@: -1}" | cut -d= -f2)
if [ "$name" = lh-refused ]; then echo "sbatch: error: Invalid partition name specified" >&2; exit 1; fi
case $name in
  lh-timeout) n=101; echo "TIMEOUT|TimeLimit|0:15" > $STATE/$n ;;
  lh-oom) n=102; echo "OUT_OF_MEMORY|OutOfMemory|0:125" > $STATE/$n ;;
  *) n=103; echo "NODE_FAIL|NodeDown|0:0" > $STATE/$n ;;
esac
echo $n`);
  script('squeue', `
ids=$(echo "$@" | grep -o -- '-j [0-9,]*' | cut -d' ' -f2 | tr ',' ' ')
for i in $ids; do IFS='|' read -r s r e < $STATE/$i; echo "$i|$s|$r"; done`);
  script('scontrol', `IFS='|' read -r s r e < $STATE/$3; echo "JobId=$3 JobName=x JobState=$s Reason=$r Dependency=(null) ExitCode=$e"`);
  script('scancel', 'exit 0');
  return bin;
}

describe('slurm executor failure states', () => {
  it('surfaces TIMEOUT, OUT_OF_MEMORY, NODE_FAIL and a refused sbatch with job id and log path', async () => {
    const { root, dirs } = tmpRun('lh-slurm-fake-');
    const bin = fakeSlurm(root);
    const ex = new SlurmExecutor({ maxWorkers: 4, dirs, pollMs: 20, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    const [timeout, oom, nodefail, refused] = await Promise.all(
      ['timeout', 'oom', 'nodefail', 'refused'].map((k) => ex.run({ key: k, spec: mod('echo', k) })),
    );
    expect(timeout).toMatchObject({ ok: false, error: { kind: 'timeout', job_id: '101', signal: 'SIGTERM', log_path: join(dirs.logsDir, 'timeout.err') } });
    expect(timeout.ok ? '' : timeout.error.message).toBe('job 101 ended TIMEOUT (TimeLimit), exit code 0:15');
    expect(oom).toMatchObject({ ok: false, error: { kind: 'out_of_memory', job_id: '102' } });
    expect(nodefail).toMatchObject({ ok: false, error: { kind: 'slurm_failed', job_id: '103' } });
    expect(refused).toMatchObject({ ok: false, error: { kind: 'submit_failed' } });
    expect(refused.ok ? '' : refused.error.message).toMatch(/Invalid partition name specified/);
    await ex.close();
  });
});
