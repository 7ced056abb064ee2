import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDoctor, runDoctor } from './doctor.js';

const scratch = mkdtempSync(join(tmpdir(), 'lh-doctor-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const repo = fileURLToPath(new URL('../..', import.meta.url));

describe('lambda-hat doctor', () => {
  it('checks each dependency on one line, with the engine compared against the TypeScript reference', async () => {
    const fakeChromium = join(scratch, 'chromium');
    writeFileSync(fakeChromium, '#!/bin/sh\necho "Chromium 150.0.1"\n', { mode: 0o755 });
    const home = join(scratch, 'store');
    const checks = await runDoctor({ home, env: { PATH: scratch }, chromiumPath: fakeChromium });
    expect(checks.map((c) => c.name)).toEqual(['runtime', 'engine', 'wasm', 'threads', 'slurm', 'chromium', 'fonts', 'store']);
    const by = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(by.engine!.status).toBe('ok');
    expect(typeof by.engine!.details.impl).toBe('string');
    expect(by.engine!.details.rel_diff_vs_ts as number).toBeLessThan(1e-10);
    expect(by.threads!.status).toBe('ok');
    // No sinfo on this PATH.
    expect(by.slurm).toMatchObject({ status: 'warn', details: { reachable: false } });
    expect(by.slurm!.summary).toMatch(/^not installed/);
    expect(by.chromium).toMatchObject({ status: 'ok', details: { kind: 'debian', version: 'Chromium 150.0.1' } });
    // The store does not exist yet: its parent is probed, nothing is created or left behind.
    expect(by.store).toMatchObject({ status: 'ok', details: { exists: false, writable: true } });
    expect(readdirSync(scratch).sort()).toEqual(['chromium']);
    const lines = formatDoctor(checks).split('\n');
    expect(lines).toHaveLength(8);
    for (const [i, c] of checks.entries()) expect(lines[i]).toMatch(new RegExp(`^${c.name}\\s+${c.status}\\s+\\S`));
  });

  it('fails the store check when the store cannot be written, naming the fix', async () => {
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'not a directory');
    const checks = await runDoctor({ home: join(file, 'store'), env: { PATH: scratch } });
    const store = checks.find((c) => c.name === 'store')!;
    expect(store.status).toBe('fail');
    expect(store.summary).toMatch(/is not writable: .*set LAMBDA_HAT_HOME to a writable directory/);
  });

  it('is a command: `lambda-hat doctor --json` prints the checks and exits 0 on a working machine', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', join(repo, 'test', 'fixtures', 'cli.ts'), 'doctor', '--json'],
      { cwd: repo, env: { ...process.env, LAMBDA_HAT_HOME: join(scratch, 'cli-store') }, timeout: 60_000 },
    );
    const out = JSON.parse(stdout) as { checks: { name: string; status: string }[] };
    expect(out.checks.map((c) => c.name)).toContain('engine');
    expect(out.checks.every((c) => c.status !== 'fail')).toBe(true);
  }, 60_000);
});
