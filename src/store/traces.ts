/**
 * Traces as uncompressed Feather (Arrow IPC file), which pandas.read_feather and
 * pyarrow read directly. One row per chain and recorded step.
 */
import { readFileSync } from 'node:fs';
import { makeVector, Table, tableFromIPC, tableToIPC, type Vector } from 'apache-arrow';
import { writeFileAtomic } from './index.js';

export type TraceColumn = Float64Array | Int32Array;
export type TraceColumns = Record<string, TraceColumn>;

export function tracesToFeather(columns: TraceColumns): Uint8Array {
  const names = Object.keys(columns);
  if (names.length === 0) throw new Error('a trace table needs at least one column');
  const rows = columns[names[0]!]!.length;
  const vectors: Record<string, Vector> = {};
  for (const name of names) {
    const col = columns[name]!;
    if (col.length !== rows) {
      throw new Error(`trace column ${name} has ${col.length} rows, expected ${rows}`);
    }
    vectors[name] = makeVector(col);
  }
  const table = new Table(vectors);
  return tableToIPC(table, 'file');
}

export function writeTraces(path: string, columns: TraceColumns): void {
  writeFileAtomic(path, tracesToFeather(columns));
}

export function readTraces(path: string): TraceColumns {
  let table: Table;
  try {
    table = tableFromIPC(readFileSync(path));
  } catch (err) {
    throw new Error(`cannot read traces from ${path}: ${(err as Error).message}`);
  }
  const out: TraceColumns = {};
  for (const field of table.schema.fields) {
    const vec = table.getChild(field.name)!;
    const arr = vec.toArray() as unknown;
    if (arr instanceof Int32Array) out[field.name] = arr;
    else if (arr instanceof Float64Array) out[field.name] = arr;
    else out[field.name] = Float64Array.from(arr as ArrayLike<number>);
  }
  return out;
}

