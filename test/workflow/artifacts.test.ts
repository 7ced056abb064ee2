import { existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { planGc, scanStore } from '../../src/cli/artifacts.js';
import { buildProgram } from '../../src/cli/index.js';

function makeStore(): string {
  const home = mkdtempSync(join(tmpdir(), 'lh-art-'));
  const old = new Date(Date.now() - 30 * 86400_000);
  const put = (rel: string, content: string, when?: Date): void => {
    const p = join(home, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, content);
    if (when) {
      utimesSync(p, when, when);
      utimesSync(join(p, '..'), when, when);
    }
  };
  put('targets/tgt_unused/meta.json', '{"target_id":"tgt_unused"}', old);
  put('targets/tgt_used/meta.json', '{"target_id":"tgt_used"}', old);
  put('runs/run_new/manifest.json', '{"target_id":"tgt_used"}');
  put('runs/run_new/traces.feather', 'x');
  put('runs/run_old/manifest.json', '{"target_id":"tgt_unused"}', old);
  put('runs/run_dead.tmp-999999-abc123/manifest.json', '{"partial": tru');
  put(`runs/run_live.tmp-${process.pid}-abc123/manifest.json`, '{}');
  put('workflows/smoke-1/workflow.json', '{"experiment":"smoke"}', old);
  return home;
}

describe('artifacts ls | gc', () => {
  it('lists the store and plans removals: dead temp leftovers always, unused artifacts only past the TTL', () => {
    const home = makeStore();
    const entries = scanStore(home);
    expect(entries.map((e) => `${e.kind}:${e.id}`).sort()).toEqual([
      'run:run_new', 'run:run_old', `temp:run_dead.tmp-999999-abc123`, `temp:run_live.tmp-${process.pid}-abc123`,
      'target:tgt_unused', 'target:tgt_used', 'workflow:workflows/smoke-1',
    ].sort());
    expect(entries.find((e) => e.id === 'run_old')!.complete).toBe(false); // no traces

    const safe = planGc(entries, {});
    expect(safe.remove.map((e) => e.id)).toEqual(['run_dead.tmp-999999-abc123']);

    const ttl = planGc(entries, { ttlDays: 7 });
    expect(ttl.remove.map((e) => e.id).sort()).toEqual(['run_dead.tmp-999999-abc123', 'run_old', 'tgt_unused', 'workflows/smoke-1']);
    // tgt_used is old but a kept run refers to it.
    expect(ttl.remove.find((e) => e.id === 'tgt_used')).toBeUndefined();
  });

  it('gc --dry-run removes nothing; gc --ttl-days removes what it printed', async () => {
    const home = makeStore();
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    const saved = process.env.LAMBDA_HAT_HOME;
    process.env.LAMBDA_HAT_HOME = home;
    try {
      await buildProgram().parseAsync(['node', 'lh', 'artifacts', 'gc', '--ttl-days', '7', '--dry-run']);
      expect(existsSync(join(home, 'runs/run_old'))).toBe(true);
      expect(out.join('')).toMatch(/would remove run run_old .*not used for 7 day/);
      out.length = 0;
      await buildProgram().parseAsync(['node', 'lh', 'artifacts', 'gc', '--ttl-days', '7']);
      expect(existsSync(join(home, 'runs/run_old'))).toBe(false);
      expect(existsSync(join(home, 'targets/tgt_unused'))).toBe(false);
      expect(existsSync(join(home, 'targets/tgt_used'))).toBe(true);
      expect(existsSync(join(home, 'runs/run_dead.tmp-999999-abc123'))).toBe(false);
      expect(existsSync(join(home, `runs/run_live.tmp-${process.pid}-abc123`))).toBe(true);
      out.length = 0;
      await buildProgram().parseAsync(['node', 'lh', 'artifacts', 'ls']);
      expect(out.join('')).toMatch(/runs \(1, .*\)\n {2}run_new/);
    } finally {
      spy.mockRestore();
      if (saved === undefined) delete process.env.LAMBDA_HAT_HOME;
      else process.env.LAMBDA_HAT_HOME = saved;
    }
  });
});
