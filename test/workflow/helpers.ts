import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JsonValue, ModuleTaskSpec } from '../../src/contracts/index.js';

export const FIXTURE = resolve(fileURLToPath(new URL('../fixtures/tasks.mjs', import.meta.url)));

export function mod(fn: string, ...args: JsonValue[]): ModuleTaskSpec {
  return { kind: 'module', module: FIXTURE, export: fn, args };
}

export function tmpRun(prefix = 'lh-exec-'): { root: string; dirs: { tasksDir: string; logsDir: string } } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  return { root, dirs: { tasksDir: join(root, 'tasks'), logsDir: join(root, 'logs') } };
}
