/**
 * `lambda-hat artifacts ls [--json]` and `lambda-hat artifacts gc [--ttl-days N] [--dry-run]`.
 *
 * The store under LAMBDA_HAT_HOME: targets/<id>, runs/<id>, and workflow invocation dirs (under
 * each card's run_dir, default workflows/). gc removes:
 *   - temp leftovers of atomic writes (`<name>.tmp-<pid>-<hex>`) whose writer process is gone
 *     (or that are older than a day): what a killed worker leaves behind;
 *   - with --ttl-days N: runs and invocation dirs not used for N days, then targets not used for
 *     N days that no remaining run refers to. "Used" is the directory's mtime, which every
 *     workflow that reuses an artifact refreshes.
 * Without --ttl-days only temp leftovers go: gc never deletes results by surprise.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  INVOCATION_FILES, RUNS, TARGETS, invocationFiles, runFiles, storeHome, targetFiles,
} from '../store/layout.js';

const TMP_RE = /\.tmp-(\d+)-[0-9a-f]+$/;
const DAY_MS = 24 * 3600 * 1000;

export interface ArtifactEntry {
  kind: 'target' | 'run' | 'workflow' | 'temp';
  id: string;
  path: string;
  bytes: number;
  mtime: Date;
  /** Runs: their target; workflows: their experiment. */
  ref?: string;
  complete: boolean;
}

function dirBytes(path: string): number {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const e of readdirSync(path)) total += dirBytes(join(path, e));
  return total;
}

function listDir(path: string): string[] {
  return existsSync(path) ? readdirSync(path).sort() : [];
}

/**
 * Store maintenance reads files leniently on purpose (not through their contracts): a run whose
 * manifest an older or newer version wrote must still keep its target from being collected.
 */
function readJson(path: string): { [key: string]: unknown } | undefined {
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? { ...v } : undefined;
  } catch {
    return undefined;
  }
}

/** Invocation dirs hold workflow.json; they live one level under some run_dir of the home. */
function workflowDirs(home: string): string[] {
  const out: string[] = [];
  for (const base of listDir(home)) {
    if (base === TARGETS || base === RUNS) continue;
    const b = join(home, base);
    if (!statSync(b).isDirectory()) continue;
    for (const inv of listDir(b)) if (existsSync(join(b, inv, INVOCATION_FILES.workflow))) out.push(join(b, inv));
  }
  return out;
}

export function scanStore(home: string): ArtifactEntry[] {
  const out: ArtifactEntry[] = [];
  const entry = (kind: ArtifactEntry['kind'], id: string, path: string, complete: boolean, ref?: string): ArtifactEntry => ({
    kind, id, path, complete, bytes: dirBytes(path), mtime: statSync(path).mtime, ...(ref ? { ref } : {}),
  });
  for (const sub of [TARGETS, RUNS]) {
    for (const name of listDir(join(home, sub))) {
      const path = join(home, sub, name);
      if (TMP_RE.test(name)) {
        out.push(entry('temp', name, path, false));
        continue;
      }
      if (sub === TARGETS) out.push(entry('target', name, path, existsSync(targetFiles(path).meta)));
      else {
        const m = readJson(runFiles(path).manifest);
        const target = typeof m?.target_id === 'string' ? m.target_id : undefined;
        out.push(entry('run', name, path, !!m && existsSync(runFiles(path).traces), target));
      }
      // Temp files inside artifact dirs (an interrupted analysis.json write, say).
      if (statSync(path).isDirectory()) {
        for (const f of listDir(path)) if (TMP_RE.test(f)) out.push(entry('temp', `${name}/${f}`, join(path, f), false));
      }
    }
  }
  for (const w of workflowDirs(home)) {
    const meta = readJson(invocationFiles(w).workflow);
    const exp = typeof meta?.experiment === 'string' ? meta.experiment : undefined;
    out.push(entry('workflow', w.slice(home.length + 1), w, existsSync(invocationFiles(w).summary), exp));
  }
  return out;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface GcPlan {
  remove: Array<ArtifactEntry & { reason: string }>;
  keep: number;
}

export function planGc(entries: readonly ArtifactEntry[], opts: { ttlDays?: number; now?: number }): GcPlan {
  const now = opts.now ?? Date.now();
  const remove: GcPlan['remove'] = [];
  const old = (e: ArtifactEntry): boolean => opts.ttlDays !== undefined && now - e.mtime.getTime() > opts.ttlDays * DAY_MS;
  for (const e of entries) {
    if (e.kind !== 'temp') continue;
    const pid = Number(TMP_RE.exec(e.id)?.[1]);
    if (!pidAlive(pid)) remove.push({ ...e, reason: `temp leftover of process ${pid}, which is gone` });
    else if (now - e.mtime.getTime() > DAY_MS) remove.push({ ...e, reason: 'temp leftover older than a day' });
  }
  if (opts.ttlDays !== undefined) {
    const days = `not used for ${opts.ttlDays} day(s)`;
    for (const e of entries) if ((e.kind === 'run' || e.kind === 'workflow') && old(e)) remove.push({ ...e, reason: days });
    const removedRuns = new Set(remove.filter((e) => e.kind === 'run').map((e) => e.id));
    const referenced = new Set(entries.filter((e) => e.kind === 'run' && !removedRuns.has(e.id) && e.ref).map((e) => e.ref!));
    for (const e of entries) {
      if (e.kind === 'target' && old(e) && !referenced.has(e.id)) remove.push({ ...e, reason: `${days} and no kept run uses it` });
    }
  }
  return { remove, keep: entries.length - remove.length };
}

function human(bytes: number): string {
  const u = ['B', 'KB', 'MB', 'GB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}

function age(d: Date, now = Date.now()): string {
  const s = (now - d.getTime()) / 1000;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86400) return `${(s / 3600).toFixed(1)}h`;
  return `${(s / 86400).toFixed(1)}d`;
}

export function registerArtifacts(program: Command): void {
  const art = program.command('artifacts').description('List and garbage-collect the artifact store (LAMBDA_HAT_HOME)');
  art
    .command('ls')
    .description('List targets, runs, workflow invocations and temp leftovers')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => {
      const home = storeHome();
      const entries = scanStore(home);
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ home, entries }, null, 2)}\n`);
        return;
      }
      process.stdout.write(`store ${home}\n`);
      if (entries.length === 0) {
        process.stdout.write('(empty)\n');
        return;
      }
      for (const kind of ['target', 'run', 'workflow', 'temp'] as const) {
        const list = entries.filter((e) => e.kind === kind);
        if (list.length === 0) continue;
        const total = list.reduce((a, e) => a + e.bytes, 0);
        process.stdout.write(`\n${kind}s (${list.length}, ${human(total)})\n`);
        for (const e of list) {
          const flags = [e.ref ?? '', e.complete || kind === 'temp' ? '' : 'INCOMPLETE'].filter(Boolean).join(' ');
          process.stdout.write(`  ${e.id}  ${human(e.bytes).padStart(9)}  ${age(e.mtime).padStart(6)}  ${flags}\n`);
        }
      }
    });
  art
    .command('gc')
    .description('Remove temp leftovers, and with --ttl-days artifacts not used for that long')
    .option('--ttl-days <n>', 'also remove runs, workflow dirs and unreferenced targets unused for N days', (v) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new Error(`--ttl-days: expected a number of days >= 0, got '${v}'`);
      return n;
    })
    .option('--dry-run', 'only print what would be removed')
    .action((o: { ttlDays?: number; dryRun?: boolean }) => {
      const home = storeHome();
      const plan = planGc(scanStore(home), o.ttlDays !== undefined ? { ttlDays: o.ttlDays } : {});
      let freed = 0;
      for (const e of plan.remove) {
        process.stdout.write(`${o.dryRun ? 'would remove' : 'removing'} ${e.kind} ${e.id} (${human(e.bytes)}): ${e.reason}\n`);
        if (!o.dryRun) rmSync(e.path, { recursive: true, force: true });
        freed += e.bytes;
      }
      process.stdout.write(
        `${o.dryRun ? 'would free' : 'freed'} ${human(freed)} in ${plan.remove.length} item(s); ${plan.keep} kept` +
          `${o.ttlDays === undefined ? ' (pass --ttl-days N to also remove artifacts unused for N days)' : ''}\n`,
      );
    });
}
