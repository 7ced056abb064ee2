/**
 * `npm test`'s runner (scripts/run-tests.mjs) in every way a run can fail: its closing
 * "N passed, N failed[, N skipped]" line must count the failure, and a run that exits non-zero
 * must never say "0 failed". Each case runs the real runner, copied into a small project whose
 * test files provoke one failure mode.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
let project: string;

const CASES: Record<string, string> = {
  'pass.test.mjs': `
import { it, expect } from 'vitest';
it('adds', () => expect(1 + 1).toBe(2));
it('needs a cluster', (ctx) => { ctx.skip('no cluster reachable here'); });
it('multiplies', () => expect(2 * 3).toBe(6));
`,
  'failing.test.mjs': `
import { it, expect } from 'vitest';
it('passes', () => expect(1).toBe(1));
it('fails', () => expect(1).toBe(2));
`,
  'before-all.test.mjs': `
import { beforeAll, describe, it, expect } from 'vitest';
describe('needs setup', () => {
  beforeAll(() => { throw new Error('setup broke'); });
  it('a', () => expect(1).toBe(1));
  it('b', () => expect(1).toBe(1));
});
it('outside the suite', () => expect(1).toBe(1));
`,
  'after-all.test.mjs': `
import { afterAll, describe, it, expect } from 'vitest';
describe('cleans up', () => {
  afterAll(() => { throw new Error('teardown broke'); });
  it('a', () => expect(1).toBe(1));
});
`,
  'top-hook.test.mjs': `
import { beforeAll, it, expect } from 'vitest';
beforeAll(() => { throw new Error('module setup broke'); });
it('x', () => expect(1).toBe(1));
`,
  'import.test.mjs': `
import { it } from 'vitest';
import { missing } from './no-such-module.mjs';
it('never runs', () => missing());
`,
  'unhandled.test.mjs': `
import { it, expect } from 'vitest';
it('leaks a rejection', async () => {
  void Promise.reject(new Error('late rejection'));
  await new Promise((r) => setTimeout(r, 50));
  expect(1).toBe(1);
});
`,
  'kill-worker.test.mjs': `
import { it } from 'vitest';
it('the worker dies', () => { process.kill(process.pid, 'SIGKILL'); });
`,
  'kill-vitest.test.mjs': `
import { it } from 'vitest';
it('vitest itself dies', () => { process.kill(process.ppid, 'SIGKILL'); });
`,
};

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'lh-runner-'));
  mkdirSync(join(project, 'scripts'));
  for (const f of ['run-tests.mjs', 'test-summary-reporter.mjs']) copyFileSync(join(repo, 'scripts', f), join(project, 'scripts', f));
  symlinkSync(join(repo, 'node_modules'), join(project, 'node_modules'), 'dir');
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({
      name: 'runner-fixture',
      private: true,
      type: 'module',
      scripts: { build: 'node -e "process.exit(Number(process.env.FIXTURE_BUILD_STATUS || 0))"' },
    }),
  );
  const config = (extra: string): string =>
    `export default { cacheDir: ${JSON.stringify(join(project, '.cache'))}, test: { include: ['cases/**/*.test.mjs'], pool: 'forks'${extra} } };\n`;
  writeFileSync(join(project, 'vitest.config.mjs'), config(''));
  writeFileSync(join(project, 'broken.config.mjs'), "throw new Error('the config cannot load');\n");
  mkdirSync(join(project, 'cases'));
  for (const [name, body] of Object.entries(CASES)) writeFileSync(join(project, 'cases', name), body);
});

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

interface RunnerOutcome {
  status: number | null;
  output: string;
  counts: { passed: number; failed: number; skipped: number };
}

function runner(args: string[], env: Record<string, string> = {}): Promise<RunnerOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(project, 'scripts', 'run-tests.mjs'), ...args], {
      cwd: project,
      env: { ...process.env, ...env, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => {
      const lines = output.trimEnd().split('\n');
      const last = lines[lines.length - 1] ?? '';
      const m = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/.exec(last);
      if (!m) {
        reject(new Error(`the runner's last line is not the closing line: ${JSON.stringify(last)}\n${output}`));
        return;
      }
      resolve({ status, output, counts: { passed: Number(m[1]), failed: Number(m[2]), skipped: Number(m[3] ?? 0) } });
    });
  });
}

/** The property every case shares: the closing line agrees with the exit status. */
function expectConsistent(r: RunnerOutcome): void {
  expect(r.counts.failed > 0, r.output).toBe(r.status !== 0);
}

describe.concurrent('the closing line of npm test matches its exit status', () => {
  it('a clean run: exit 0, passes counted, a skip listed with its reason', async () => {
    const r = await runner(['cases/pass']);
    expect(r.status).toBe(0);
    expect(r.counts).toEqual({ passed: 2, failed: 0, skipped: 1 });
    expect(r.output).toMatch(/skipped \(1\):\n {2}1 in cases\/pass\.test\.mjs: no cluster reachable here/);
    expectConsistent(r);
  });

  it('a failing test', async () => {
    const r = await runner(['cases/failing']);
    expect(r.status).toBe(1);
    expect(r.counts).toEqual({ passed: 1, failed: 1, skipped: 0 });
    expect(r.output).toMatch(/test: cases\/failing\.test\.mjs > fails: .*expected 1 to be 2/);
    expectConsistent(r);
  });

  it('a suite whose beforeAll throws: the hook is a failure, its tests are listed as not run', async () => {
    const r = await runner(['cases/before-all']);
    expect(r.status).toBe(1);
    expect(r.counts).toEqual({ passed: 1, failed: 1, skipped: 2 });
    expect(r.output).toMatch(/suite: cases\/before-all\.test\.mjs > needs setup: setup broke/);
    expect(r.output).toMatch(/2 in cases\/before-all\.test\.mjs: not run: suite 'needs setup' failed/);
    expectConsistent(r);
  });

  it('a suite whose afterAll throws after its tests passed', async () => {
    const r = await runner(['cases/after-all']);
    expect(r.status).toBe(1);
    expect(r.counts).toEqual({ passed: 1, failed: 1, skipped: 0 });
    expect(r.output).toMatch(/suite: cases\/after-all\.test\.mjs > cleans up: teardown broke/);
    expectConsistent(r);
  });

  it('a top-level beforeAll that throws fails the file', async () => {
    const r = await runner(['cases/top-hook']);
    expect(r.status).toBe(1);
    expect(r.counts).toEqual({ passed: 0, failed: 1, skipped: 1 });
    expect(r.output).toMatch(/file: cases\/top-hook\.test\.mjs: module setup broke/);
    expect(r.output).toMatch(/not run: its file failed/);
    expectConsistent(r);
  });

  it('a file that fails to import', async () => {
    const r = await runner(['cases/import']);
    expect(r.status).toBe(1);
    expect(r.counts).toEqual({ passed: 0, failed: 1, skipped: 0 });
    expect(r.output).toMatch(/file: cases\/import\.test\.mjs: .*no-such-module/);
    expectConsistent(r);
  });

  it('an unhandled rejection in a test that passes', async () => {
    const r = await runner(['cases/unhandled']);
    expect(r.status).toBe(1);
    expect(r.counts).toEqual({ passed: 1, failed: 1, skipped: 0 });
    expect(r.output).toMatch(/unhandled: cases\/unhandled\.test\.mjs > leaks a rejection \(Unhandled Rejection\): late rejection/);
    expectConsistent(r);
  });

  it('a test worker that dies mid-test', async () => {
    const r = await runner(['cases/kill-worker']);
    expect(r.status).toBe(1);
    // The unfinished test and the pool's error about the dead worker.
    expect(r.counts.failed).toBeGreaterThanOrEqual(1);
    expect(r.counts.passed).toBe(0);
    expect(r.output).toMatch(/the worker dies: did not finish/);
    expectConsistent(r);
  });

  it('vitest itself killed mid-run', async () => {
    const r = await runner(['cases/kill-vitest']);
    expect(r.status).toBe(1);
    expect(r.counts).toEqual({ passed: 0, failed: 1, skipped: 0 });
    expect(r.output).toMatch(/vitest was killed by SIGKILL before reporting any result/);
    expectConsistent(r);
  });

  it('vitest that cannot load its config', async () => {
    const r = await runner(['--config', 'broken.config.mjs', 'cases/pass']);
    expect(r.status).toBe(1);
    expect(r.counts).toEqual({ passed: 0, failed: 1, skipped: 0 });
    expect(r.output).toMatch(/vitest exited with status 1 before reporting any result/);
    expectConsistent(r);
  });

  it('a build that fails: no test runs and the line says so', async () => {
    const r = await runner(['cases/pass'], { FIXTURE_BUILD_STATUS: '2' });
    expect(r.status).toBe(1);
    expect(r.counts).toEqual({ passed: 0, failed: 1, skipped: 0 });
    expect(r.output).toMatch(/the build failed/);
    expectConsistent(r);
  });

  it('several failure modes in one run add up', async () => {
    const r = await runner(['cases/pass', 'cases/failing', 'cases/before-all', 'cases/after-all', 'cases/import', 'cases/unhandled']);
    expect(r.status).toBe(1);
    // passed: 2 + 1 + 1 + 1 + 1; failed: test, hook, hook, import, unhandled; skipped: 1 + 2.
    expect(r.counts).toEqual({ passed: 6, failed: 5, skipped: 3 });
    expectConsistent(r);
  });
});
