import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { registerDiagnostics } from '../cli/diagnostics.js';
import { summarize, SUMMARY_KEYS } from './index.js';

const reference = JSON.parse(
  readFileSync(new URL('./arviz_diagnostics.fixture.json', import.meta.url), 'utf8'),
) as { cases: Record<string, Record<string, number> & { chains: number[][] }> };
const iid = reference.cases['iid_4x400']!;

const dir = mkdtempSync(join(tmpdir(), 'lambda-hat-diagnostics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs `lambda-hat diagnostics ...args` in-process and returns what it printed. A program with
 * only this command registered is used, so the test does not depend on the other commands.
 */
async function run(...args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerDiagnostics(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  });
  try {
    await program.parseAsync(['node', 'lambda-hat', 'diagnostics', ...args]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

type Dtype = '<f8' | '<f4' | '<i4' | '>f8';

/** A minimal .npy (format 1.0) writer for a [rows][cols] matrix. */
function npy(rows: number[][], dtype: Dtype, fortran = false): Uint8Array {
  const r = rows.length;
  const c = rows[0]!.length;
  let header = `{'descr': '${dtype}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${r}, ${c}), }`;
  // numpy pads the header with spaces and a newline so the data starts on a 64-byte boundary.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const size = dtype.endsWith('8') ? 8 : 4;
  const bytes = new Uint8Array(10 + header.length + r * c * size);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const view = new DataView(bytes.buffer);
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) bytes[10 + i] = header.charCodeAt(i);
  let offset = 10 + header.length;
  const order: [number, number][] = [];
  if (fortran) for (let j = 0; j < c; j++) for (let i = 0; i < r; i++) order.push([i, j]);
  else for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) order.push([i, j]);
  for (const [i, j] of order) {
    const v = rows[i]![j]!;
    if (dtype === '<f8') view.setFloat64(offset, v, true);
    else if (dtype === '>f8') view.setFloat64(offset, v, false);
    else if (dtype === '<f4') view.setFloat32(offset, v, true);
    else view.setInt32(offset, v, true);
    offset += size;
  }
  return bytes;
}

function csv(chains: number[][], header: boolean): string {
  const lines = header ? [chains.map((_, j) => `chain_${j}`).join(',')] : [];
  for (let i = 0; i < chains[0]!.length; i++) lines.push(chains.map((c) => String(c[i])).join(','));
  return lines.join('\n') + '\n';
}

function write(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function expectMatchesReference(printed: string): void {
  const json = JSON.parse(printed) as Record<string, number>;
  expect(Object.keys(json)).toEqual([...SUMMARY_KEYS]);
  for (const key of SUMMARY_KEYS) {
    expect(Math.abs(json[key]! - iid[key]!)).toBeLessThanOrEqual(1e-8 * Math.abs(iid[key]!));
  }
}

describe('lambda-hat diagnostics FILE --json', () => {
  const transposed = iid.chains[0]!.map((_, i) => iid.chains.map((c) => c[i]!));
  // String(x) round-trips doubles exactly, so every format carries identical draws.
  it.each([
    ['chains.json', JSON.stringify(iid.chains)],
    ['chains.npy', npy(iid.chains, '<f8')],
    ['chains-fortran.npy', npy(iid.chains, '<f8', true)],
    ['chains-bigendian.npy', npy(iid.chains, '>f8')],
    ['chains-header.csv', csv(iid.chains, true)],
    ['chains-noheader.csv', csv(iid.chains, false)],
  ])('%s gives the ArviZ reference values', async (name, content) => {
    expectMatchesReference(await run(write(name, content), '--json'));
  });

  it('reads the transposed layout only as [chain][draw] (400 chains of 4 draws)', async () => {
    const out = JSON.parse(await run(write('t.json', JSON.stringify(transposed)), '--json'));
    expect(out.rhat).not.toBeCloseTo(iid.rhat!, 3);
  });

  it('float32 and int32 .npy give the statistics of the same values in float64', async () => {
    const ints = iid.chains.map((c) => c.map((x) => Math.round(10 * x)));
    const expected = summarize(ints);
    for (const dtype of ['<f4', '<i4'] as const) {
      const out = JSON.parse(await run(write(`ints-${dtype.slice(1)}.npy`, npy(ints, dtype)), '--json'));
      for (const key of SUMMARY_KEYS) expect(out[key]).toBe(expected[key]);
    }
  });

  it('prints null with reasons when a statistic cannot be computed', async () => {
    const out = JSON.parse(await run(write('one.json', JSON.stringify([iid.chains[0]])), '--json'));
    expect(out.rhat).toBeNull();
    expect(out.reasons).toEqual({ rhat: 'R-hat needs at least 2 chains, got 1' });
    expect(out.ess_bulk).toBeGreaterThan(0);
  });

  it('NaN spelled in a CSV reaches the diagnostics and is reported, not printed', async () => {
    const text = 'a,b\n1,2\nnan,3\n2,4\n3,1\n';
    const printed = await run(write('nan.csv', text), '--json');
    // Strict JSON: a bare NaN value would make JSON.parse throw; the word may appear in reasons.
    expect(printed).not.toMatch(/:\s*-?(NaN|Infinity)/);
    const out = JSON.parse(printed);
    for (const key of SUMMARY_KEYS) expect(out[key]).toBeNull();
    expect(out.reasons.rhat).toMatch(/NaN \(chain 0, draw 1\)/);
  });
});

describe('lambda-hat diagnostics FILE (table)', () => {
  it('prints a readable table with the shape and every statistic', async () => {
    const path = write('table.json', JSON.stringify(iid.chains));
    const out = await run(path);
    expect(out).toContain(`${path}: 4 chains x 400 draws`);
    expect(out).toMatch(/rhat\s+1\.0038\b/);
    expect(out).toMatch(/ess_bulk\s+1350\.43\b/);
    for (const key of SUMMARY_KEYS) expect(out).toContain(key);
  });

  it('shows the reason next to a missing statistic', async () => {
    const out = await run(write('one-table.json', JSON.stringify([iid.chains[0]])));
    expect(out).toMatch(/rhat\s+-\s+\(R-hat needs at least 2 chains, got 1\)/);
  });
});

describe('unreadable input is an error naming the file', () => {
  it.each([
    ['ragged.json', '[[1,2,3,4],[1,2,3]]', /ragged input, chain 0 has 4 draws but chain 1 has 3/],
    ['flat.json', '[1,2,3]', /expected an array of arrays/],
    ['text.json', '[[1,"x"]]', /chain 0, draw 1 is not a number/],
    ['broken.json', '[[1,2', /not valid JSON/],
    ['ragged.csv', 'a,b\n1,2\n3\n', /ragged CSV, line 3 has 1 columns, expected 2/],
    ['word.csv', '1,2\n3,x\n', /line 2, column 2 is not a number/],
    ['bad.npy', 'not numpy at all', /not a \.npy file/],
    ['chains.txt', '1 2 3', /unsupported extension '\.txt'/],
  ])('%s', async (name, content, message) => {
    const path = write(name, content);
    await expect(run(path, '--json')).rejects.toThrow(message);
    await expect(run(path, '--json')).rejects.toThrow(path);
  });

  it('a 1-D .npy array', async () => {
    const bytes = npy([[1, 2, 3]], '<f8');
    // Rewrite the shape (1, 3) as the 1-D shape (3,), keeping the header length.
    const text = new TextDecoder('latin1').decode(bytes).replace("'shape': (1, 3)", "'shape': (3,)  ");
    const path = write('oned.npy', Uint8Array.from(text, (ch) => ch.charCodeAt(0)));
    await expect(run(path)).rejects.toThrow(/expected a 2-D array \[chain, draw\], got shape \(3\)/);
  });

  it('a truncated .npy file', async () => {
    const bytes = npy(iid.chains, '<f8');
    const path = write('short.npy', bytes.subarray(0, bytes.length - 8));
    await expect(run(path)).rejects.toThrow(/truncated \.npy data/);
  });

  it('a missing file', async () => {
    const path = join(dir, 'missing.json');
    await expect(run(path)).rejects.toThrow(`${path}: cannot read file`);
  });
});
