/**
 * The NetCDF4 InferenceData writer, read back with h5wasm: the structure that netCDF readers
 * (netCDF-C, h5netcdf, hence xarray and ArviZ) rely on to see (chain, draw) dimensions, plus
 * values, padding and atomicity. No Python here: a by-hand check with arviz.from_netcdf was
 * done when this was written (see the commit message).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import h5wasm from 'h5wasm/node';
import type { Dataset, Group } from 'h5wasm/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { traceGrid, writeTraceNetcdf } from './netcdf.js';
import type { TraceColumns } from './traces.js';

let dir: string;
beforeAll(async () => {
  await h5wasm.ready;
  dir = mkdtempSync(join(tmpdir(), 'lh-netcdf-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Traces as the chain runner writes them: chains in order, draws 0..k-1 per chain. */
function makeTraces(drawsPerChain: number[]): TraceColumns {
  const cols = {
    chain: [] as number[],
    draw: [] as number[],
    step: [] as number[],
    Ln: [] as number[],
    llc: [] as number[],
    cumulative_fge: [] as number[],
    time_s: [] as number[],
    acceptance: [] as number[],
    diverging: [] as number[],
  };
  drawsPerChain.forEach((k, c) => {
    for (let d = 0; d < k; d++) {
      cols.chain.push(c);
      cols.draw.push(d);
      cols.step.push(10 * (d + 1));
      cols.Ln.push(1 + c + d / 1000);
      cols.llc.push(100 * c + d);
      cols.cumulative_fge.push(10 * (d + 1) + 0.5);
      cols.time_s.push(d / 8);
      cols.acceptance.push((d % 4) / 4);
      // The runner records divergence counts since the last recorded draw (may exceed 1).
      cols.diverging.push(d % 5 === 0 ? 2 : 0);
    }
  });
  return {
    chain: Int32Array.from(cols.chain),
    draw: Int32Array.from(cols.draw),
    step: Int32Array.from(cols.step),
    Ln: Float64Array.from(cols.Ln),
    llc: Float64Array.from(cols.llc),
    cumulative_fge: Float64Array.from(cols.cumulative_fge),
    time_s: Float64Array.from(cols.time_s),
    acceptance: Float64Array.from(cols.acceptance),
    diverging: Float64Array.from(cols.diverging),
  };
}

const ATTRS = { sampler: 'hmc', target_id: 'tgt_0123456789ab', n: 1000, beta: 1 / Math.log(1000), gamma: 100, L0: 0.0123 };

function dataset(f: Group, path: string): Dataset {
  const e = f.get(path);
  if (!(e instanceof h5wasm.Dataset)) throw new Error(`${path} is not a dataset`);
  return e;
}

function attr(obj: Group | Dataset, name: string): unknown {
  const a = obj.attrs[name];
  if (!a) throw new Error(`${obj.path} has no attribute ${name}`);
  return a.value;
}

function withFile<T>(path: string, fn: (f: InstanceType<typeof h5wasm.File>) => T): T {
  const f = new h5wasm.File(path, 'r');
  try {
    return fn(f);
  } finally {
    f.close();
  }
}

describe('traceGrid', () => {
  it('lays rows out by sorted chain id and draw index, padding short chains', () => {
    const t: TraceColumns = {
      chain: Int32Array.from([2, 0, 2, 0, 0]),
      draw: Int32Array.from([1, 0, 0, 2, 1]),
      llc: Float64Array.from([1, 2, 3, 4, 5]),
    };
    const g = traceGrid(t);
    expect(g.chains).toEqual([0, 2]);
    expect(g.draws).toBe(3);
    expect(g.drawsPerChain).toEqual([3, 2]);
    expect(g.padded).toBe(true);
    expect(Array.from(g.rowAt)).toEqual([1, 4, 3, 2, 0, -1]);
  });

  it('rejects duplicate (chain, draw) rows, negative draws and ragged columns', () => {
    expect(() => traceGrid({ chain: Int32Array.from([0, 0]), draw: Int32Array.from([1, 1]) })).toThrow(/both chain 0 draw 1/);
    expect(() => traceGrid({ chain: Int32Array.from([0]), draw: Int32Array.from([-1]) })).toThrow(/non-negative/);
    expect(() => traceGrid({ chain: Int32Array.from([0, 0]), draw: Int32Array.from([0]) })).toThrow(/has 1 rows, expected 2/);
  });
});

describe('writeTraceNetcdf', () => {
  it('writes posterior and sample_stats groups of dims (chain, draw) with values in place', async () => {
    const path = join(dir, 'equal.nc');
    const traces = makeTraces([6, 6, 6]);
    const grid = await writeTraceNetcdf(path, { traces, attrs: ATTRS });
    expect(grid.padded).toBe(false);
    withFile(path, (f) => {
      expect(f.keys()).toEqual(['posterior', 'sample_stats']);
      expect((f.get('posterior') as Group).keys()).toEqual(['chain', 'draw', 'llc', 'Ln']);
      expect((f.get('sample_stats') as Group).keys()).toEqual([
        'chain',
        'draw',
        'step',
        'cumulative_fge',
        'time_s',
        'acceptance_rate',
        'diverging',
      ]);
      const llc = dataset(f, 'posterior/llc');
      expect(llc.shape).toEqual([3, 6]);
      expect(llc.dtype).toBe('<d');
      // row-major [chain][draw]: llc = 100 chain + draw
      expect(Array.from(llc.value as Float64Array)).toEqual(
        Array.from({ length: 18 }, (_, i) => 100 * Math.floor(i / 6) + (i % 6)),
      );
      expect(Array.from(dataset(f, 'posterior/Ln').value as Float64Array)[7]).toBeCloseTo(2.001, 12);
      expect(Array.from(dataset(f, 'posterior/chain').value as BigInt64Array)).toEqual([0n, 1n, 2n]);
      expect(Array.from(dataset(f, 'posterior/draw').value as BigInt64Array)).toEqual([0n, 1n, 2n, 3n, 4n, 5n]);
      const acc = dataset(f, 'sample_stats/acceptance_rate');
      expect(Array.from(acc.value as Float64Array).slice(0, 6)).toEqual([0, 0.25, 0.5, 0.75, 0, 0.25]);
      expect(Array.from(dataset(f, 'sample_stats/step').value as Float64Array).slice(0, 3)).toEqual([10, 20, 30]);
      const div = dataset(f, 'sample_stats/diverging');
      expect(div.dtype).toBe('<b');
      expect(attr(div, 'dtype')).toBe('bool');
      // counts become flags: 2 -> 1
      expect(Array.from(div.value as Int8Array).slice(0, 6)).toEqual([1, 0, 0, 0, 0, 1]);
    });
  });

  it('marks chain and draw as dimension scales and attaches them to every variable', async () => {
    const path = join(dir, 'scales.nc');
    await writeTraceNetcdf(path, { traces: makeTraces([4, 4]), attrs: ATTRS });
    withFile(path, (f) => {
      const dimids: number[] = [];
      for (const group of ['posterior', 'sample_stats']) {
        for (const dim of ['chain', 'draw']) {
          const scale = dataset(f, `${group}/${dim}`);
          expect(attr(scale, 'CLASS')).toBe('DIMENSION_SCALE');
          expect(attr(scale, 'NAME')).toBe(dim);
          expect(scale.get_scale_name()).toBe(dim);
          expect(scale.dtype).toBe('<q');
          expect(scale.attrs._Netcdf4Dimid!.dtype).toBe('<i');
          dimids.push(Number(attr(scale, '_Netcdf4Dimid')));
          expect(scale.attrs.REFERENCE_LIST).toBeDefined();
        }
        const g = f.get(group) as Group;
        for (const name of g.keys().filter((k) => k !== 'chain' && k !== 'draw')) {
          const v = dataset(f, `${group}/${name}`);
          expect(v.shape).toEqual([2, 4]);
          expect(v.attrs.DIMENSION_LIST).toBeDefined();
          expect(v.get_attached_scales(0)).toEqual([`/${group}/chain`]);
          expect(v.get_attached_scales(1)).toEqual([`/${group}/draw`]);
          expect(v.get_scale_name()).toBeNull();
        }
      }
      // unique in the file, as netCDF-C numbers dimensions
      expect(dimids).toEqual([0, 1, 2, 3]);
    });
  });

  it('writes run attributes on the root and both groups, integers as int64 and others as float64', async () => {
    const path = join(dir, 'attrs.nc');
    await writeTraceNetcdf(path, { traces: makeTraces([4, 4]), attrs: ATTRS });
    withFile(path, (f) => {
      for (const obj of [f, f.get('posterior') as Group, f.get('sample_stats') as Group]) {
        expect(attr(obj, 'sampler')).toBe('hmc');
        expect(attr(obj, 'target_id')).toBe('tgt_0123456789ab');
        expect(attr(obj, 'created_by')).toBe('lambda-hat');
        expect(obj.attrs.n!.dtype).toBe('<q');
        expect(attr(obj, 'n')).toBe(1000n);
        expect(attr(obj, 'gamma')).toBe(100n);
        expect(obj.attrs.beta!.dtype).toBe('<d');
        expect(attr(obj, 'beta')).toBe(ATTRS.beta);
        expect(attr(obj, 'L0')).toBe(0.0123);
        expect(attr(obj, 'padded_with_nan')).toBe(0n);
        expect(Array.from(attr(obj, 'draws_per_chain') as BigInt64Array)).toEqual([4n, 4n]);
        expect(obj.attrs.padding).toBeUndefined();
      }
    });
  });

  it('keeps created_by fixed when the caller passes one', async () => {
    const path = join(dir, 'producer.nc');
    await writeTraceNetcdf(path, { traces: makeTraces([2]), attrs: { ...ATTRS, created_by: 'someone-else' } });
    withFile(path, (f) => expect(attr(f, 'created_by')).toBe('lambda-hat'));
  });

  it('pads a chain that stopped early with NaN (False for diverging) and says so', async () => {
    const path = join(dir, 'padded.nc');
    const grid = await writeTraceNetcdf(path, { traces: makeTraces([5, 2, 5]), attrs: ATTRS });
    expect(grid).toMatchObject({ chains: [0, 1, 2], draws: 5, drawsPerChain: [5, 2, 5], padded: true });
    withFile(path, (f) => {
      const llc = Array.from(dataset(f, 'posterior/llc').value as Float64Array);
      expect(llc.slice(5, 10)).toEqual([100, 101, NaN, NaN, NaN]);
      expect(llc.slice(10)).toEqual([200, 201, 202, 203, 204]);
      const fge = Array.from(dataset(f, 'sample_stats/cumulative_fge').value as Float64Array);
      expect(fge.slice(5, 10)).toEqual([10.5, 20.5, NaN, NaN, NaN]);
      const div = Array.from(dataset(f, 'sample_stats/diverging').value as Int8Array);
      expect(div.slice(5, 10)).toEqual([1, 0, 0, 0, 0]);
      for (const obj of [f, f.get('posterior') as Group]) {
        expect(attr(obj, 'padded_with_nan')).toBe(1n);
        expect(Array.from(attr(obj, 'draws_per_chain') as BigInt64Array)).toEqual([5n, 2n, 5n]);
        expect(String(attr(obj, 'padding'))).toMatch(/NaN/);
      }
    });
  });

  it('omits sample_stats when the traces have no sample-stat columns', async () => {
    const path = join(dir, 'bare.nc');
    const t = makeTraces([3]);
    await writeTraceNetcdf(path, { traces: { chain: t.chain!, draw: t.draw!, llc: t.llc!, Ln: t.Ln! }, attrs: {} });
    withFile(path, (f) => expect(f.keys()).toEqual(['posterior']));
  });

  it('writes atomically: replaces an existing file and leaves no temp files, also on failure', async () => {
    const sub = mkdtempSync(join(dir, 'atomic-'));
    const path = join(sub, 'traces.nc');
    await writeTraceNetcdf(path, { traces: makeTraces([3]), attrs: ATTRS });
    await writeTraceNetcdf(path, { traces: makeTraces([4, 4]), attrs: ATTRS });
    withFile(path, (f) => expect(dataset(f, 'posterior/llc').shape).toEqual([2, 4]));
    const t = makeTraces([3]);
    await expect(
      writeTraceNetcdf(path, { traces: { ...t, acceptance_rate: t.acceptance! }, attrs: ATTRS }),
    ).rejects.toThrow(/acceptance_rate/);
    // A failure after the temp file was written: the target is now a non-empty directory.
    const blocked = join(sub, 'blocked.nc');
    mkdirSync(join(blocked, 'inside'), { recursive: true });
    await expect(writeTraceNetcdf(blocked, { traces: t, attrs: ATTRS })).rejects.toThrow();
    rmSync(blocked, { recursive: true });
    expect(readdirSync(sub)).toEqual(['traces.nc']);
    withFile(path, (f) => expect(dataset(f, 'posterior/llc').shape).toEqual([2, 4]));
  });

  it('refuses missing posterior columns, invalid variable names and reserved attribute names', async () => {
    const t = makeTraces([3]);
    const { llc: _llc, ...noLlc } = t;
    await expect(writeTraceNetcdf(join(dir, 'x.nc'), { traces: noLlc, attrs: {} })).rejects.toThrow(/`llc`/);
    await expect(writeTraceNetcdf(join(dir, 'x.nc'), { traces: t, attrs: { _Netcdf4Dimid: 1 } })).rejects.toThrow(/reserved/);
    await expect(writeTraceNetcdf(join(dir, 'x.nc'), { traces: t, attrs: { CLASS: 'x' } })).rejects.toThrow(/reserved/);
    await expect(writeTraceNetcdf(join(dir, 'x.nc'), { traces: { ...t, 'a/b': t.llc! }, attrs: {} })).rejects.toThrow(/"a\/b" is not a valid/);
  });
});
