import { mkdtempSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalJson, contentId, storeHome, writeDirAtomic, writeJsonAtomic } from './index.js';
import { readTraces, writeTraces } from './traces.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'lh-store-'));

describe('store', () => {
  it('hashes canonical JSON: key order does not matter, values do', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 1, e: 2 }] } })).toBe(
      '{"a":{"c":[3,{"e":2,"f":1}],"d":2},"b":1}',
    );
    expect(contentId('tgt', { a: 1, b: 2 })).toBe(contentId('tgt', { b: 2, a: 1 }));
    expect(contentId('tgt', { a: 1 })).not.toBe(contentId('tgt', { a: 2 }));
    expect(contentId('tgt', { a: 1 })).toMatch(/^tgt_[0-9a-f]{12}$/);
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/non-finite/);
  });

  it('resolves the home from the argument, then LAMBDA_HAT_HOME, then ./artifacts', () => {
    expect(storeHome('/x/y', {})).toBe('/x/y');
    expect(storeHome(undefined, { LAMBDA_HAT_HOME: '/z' })).toBe('/z');
    expect(storeHome(undefined, {})).toBe(join(process.cwd(), 'artifacts'));
  });

  it('refuses to write NaN into JSON', () => {
    const dir = tmp();
    expect(() => writeJsonAtomic(join(dir, 'a.json'), { x: Number.NaN })).toThrow(/non-finite/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a directory whose writer fails is never published, and leaves no temp behind', async () => {
    const dir = tmp();
    const final = join(dir, 'targets', 'tgt_1');
    await expect(
      writeDirAtomic(final, (t) => {
        writeJsonAtomic(join(t, 'meta.json'), { ok: true });
        throw new Error('killed mid-write');
      }),
    ).rejects.toThrow(/killed/);
    expect(existsSync(final)).toBe(false);
    expect(readdirSync(join(dir, 'targets'))).toEqual([]);
    expect(await writeDirAtomic(final, (t) => writeJsonAtomic(join(t, 'meta.json'), { ok: 1 }))).toBe(true);
    expect(await writeDirAtomic(final, (t) => writeJsonAtomic(join(t, 'meta.json'), { ok: 2 }))).toBe(false);
    expect(JSON.parse(readFileSync(join(final, 'meta.json'), 'utf8'))).toEqual({ ok: 1 });
  });

  it('round-trips traces through Feather', () => {
    const path = join(tmp(), 'traces.feather');
    const cols = {
      chain: Int32Array.from([0, 0, 1, 1]),
      draw: Int32Array.from([0, 1, 0, 1]),
      llc: Float64Array.from([1.5, 2.25, -0.5, 3]),
    };
    writeTraces(path, cols);
    const back = readTraces(path);
    expect(Object.keys(back)).toEqual(['chain', 'draw', 'llc']);
    expect(Array.from(back.chain!)).toEqual([0, 0, 1, 1]);
    expect(Array.from(back.llc!)).toEqual([1.5, 2.25, -0.5, 3]);
    expect(back.llc).toBeInstanceOf(Float64Array);
    expect(() => writeTraces(path, { a: new Float64Array(2), b: new Float64Array(3) })).toThrow(/rows/);
  });
});
