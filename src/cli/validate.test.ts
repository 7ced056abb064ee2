// `validate --json` keeps stdout a JSON document and still reports each case on stderr, so a
// half-hour dln-wide run is not silent when its output goes to a file.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/cli.ts');
const TSX = createRequire(import.meta.url).resolve('tsx');

describe('validate --json', () => {
  it('prints the JSON document on stdout and one progress line per case on stderr', () => {
    const r = spawnSync(process.execPath, ['--import', TSX, CLI, 'validate', '--suite', 'dln-wide', '--cases', '2', '--chains', '2', '--set', 'steps=400', '--json'], {
      encoding: 'utf8',
    });
    const doc = JSON.parse(r.stdout) as { suite: string; cases: { case: string }[] };
    expect(doc.suite).toBe('dln-wide');
    expect(doc.cases).toHaveLength(2);
    const progress = r.stderr.split('\n').filter((l) => /^\[\d+\] /.test(l));
    expect(progress.map((l) => l.slice(0, 4))).toEqual(['[1] ', '[2] ']);
    expect(progress[0]).toContain(doc.cases[0]!.case);
    expect(r.stderr).toMatch(/^dln-wide: 2 networks \(seed 0\)/);
  }, 120_000);
});
