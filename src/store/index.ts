/**
 * The artifact store: content-addressed directories under LAMBDA_HAT_HOME (their paths are
 * built in layout.ts), written atomically (temp name in the same directory, then rename) so
 * that a reader never sees a half-written file, and concurrent writers never share a temp name.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export { runDir, storeHome, targetDir } from './layout.js';

/** JSON with object keys sorted recursively: the canonical form that ids are hashes of. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value as Record<string, unknown>).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new Error(`cannot hash a non-finite number (${value})`);
  }
  return value;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** "<prefix>_" + the first 12 hex digits of sha256 of the canonical JSON of value. */
export function contentId(prefix: string, value: unknown): string {
  return `${prefix}_${sha256Hex(canonicalJson(value)).slice(0, 12)}`;
}

function tempSibling(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** Writes a file atomically: readers see the old file, or the whole new one, never a part. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** JSON file, atomically, with a trailing newline. Refuses NaN and Infinity. */
export function writeJsonAtomic(path: string, value: unknown): void {
  const text = JSON.stringify(
    value,
    (_k, v: unknown) => {
      if (typeof v === 'number' && !Number.isFinite(v)) {
        throw new Error(`refusing to write non-finite number ${v} to ${path}`);
      }
      return v;
    },
    2,
  );
  writeFileAtomic(path, `${text}\n`);
}

/**
 * Builds a directory atomically: `fill` writes into a fresh temp directory, which is renamed
 * onto `finalDir` only when fill returns. If another writer finished first, its result is
 * kept (identical inputs give identical content) and ours is discarded.
 * Returns true when this call created finalDir.
 */
export async function writeDirAtomic(
  finalDir: string,
  fill: (tmpDir: string) => void | Promise<void>,
): Promise<boolean> {
  mkdirSync(dirname(finalDir), { recursive: true });
  const tmp = tempSibling(finalDir);
  mkdirSync(tmp, { recursive: true });
  try {
    await fill(tmp);
    if (existsSync(finalDir)) {
      rmSync(tmp, { recursive: true, force: true });
      return false;
    }
    renameSync(tmp, finalDir);
    return true;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && existsSync(finalDir)) return false;
    throw err;
  }
}
