import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadExperiment } from '../config/experiment.js';
import { registerBuild } from './build.js';

/** Runs `lambda-hat build ...` in process, capturing what it writes to stdout and stderr. */
async function run(args: string[]): Promise<{ stdout: string; stderr: string; error?: Error }> {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
  const program = new Command().name('lambda-hat').exitOverride();
  registerBuild(program);
  let error: Error | undefined;
  try {
    await program.parseAsync(['node', 'lambda-hat', ...args]);
  } catch (e) {
    error = e as Error;
  } finally {
    vi.restoreAllMocks();
  }
  return { stdout: out.join(''), stderr: err.join(''), error };
}

afterEach(() => vi.restoreAllMocks());

describe('lambda-hat build', () => {
  it('prints the id and the directory on stdout, progress on stderr; reruns reuse the target', async () => {
    const home = mkdtempSync(join(tmpdir(), 'lh-home-'));
    const file = join(mkdtempSync(join(tmpdir(), 'lh-cfg-')), 'target.yaml');
    writeFileSync(file, 'model: small\ndata: small\nteacher: _null\nseed: 42\noverrides: {training: {steps: 100}}\n');
    const args = ['build', '--config', file, '--set', 'data.n=50', '--engine', 'ts', '--home', home];
    const r = await run(args);
    expect(r.error).toBeUndefined();
    // Not a TTY here: plain progress lines.
    expect(r.stderr).toMatch(/^build tgt_[0-9a-f]{12}: training step 100\/100, loss [-+.\de]+, \|grad\| [-+.\de]+, \d+s, ETA 0s\n/m);
    const [id, dir, extra] = r.stdout.split('\n');
    expect(id).toMatch(/^tgt_[0-9a-f]{12}$/);
    expect(dir).toBe(join(home, 'targets', id!));
    expect(extra).toBe('');
    const again = await run(args);
    expect(again.stdout).toBe(r.stdout);
    expect(again.stderr).toContain(`reused existing target ${id}`);
  });

  it('builds the target of a one-target experiment file (the smoke file), with its experiment id and a convergence warning', async () => {
    const home = mkdtempSync(join(tmpdir(), 'lh-home-'));
    const smoke = fileURLToPath(new URL('../../config/smoke.yaml', import.meta.url));
    const r = await run(['build', '--config', smoke, '--engine', 'ts', '--home', home]);
    expect(r.error).toBeUndefined();
    expect(r.stdout.split('\n')[0]).toBe(loadExperiment(smoke).targets[0]!.target_id);
    // 100 Adam steps do not reach a critical point: the user is told.
    expect(r.stderr).toMatch(/warning: training ended with gradient norm .* after 100 steps/);
    const bad = await run(['build', '--config', smoke, '--index', '3', '--home', home]);
    expect(bad.error?.message).toBe(`--index 3: ${smoke} has targets 0..0`);
  });

  it('fails on a misspelt key with the file, the line and the nearest key', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'lh-cfg-')), 'target.yaml');
    writeFileSync(file, 'model: small\ndata: small\nsede: 42\n');
    const r = await run(['build', '--config', file, '--home', mkdtempSync(join(tmpdir(), 'lh-home-'))]);
    expect(r.error?.message).toBe(`${file}:3: sede: unknown key 'sede' (did you mean 'seed'?)`);
    expect(r.stdout).toBe('');
  });
});
