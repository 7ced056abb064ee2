/**
 * Live progress of a workflow: one group per stage (build, sample, diagnose, report) with one
 * line per task, via listr2, redrawn in place on a terminal. Elsewhere (CI, pipes, files) plain
 * timestamped lines as tasks really start, retry and finish (listr2's own fallback renderer
 * would announce every queued task as started at once). A running task's own progress (training
 * step and loss, tuning, sampling rate, running λ̂, ETA) shows in its line on a terminal, and as
 * a plain line at most every PLAIN_PROGRESS_MS per task elsewhere. Progress goes to stderr so
 * stdout carries only the final table.
 */
import { Listr, ProcessOutput, type ListrTask } from 'listr2';
import { describeProgress } from '../contracts/index.js';
import type { GraphEvent, GraphNode, NodeOutcome, Stage } from './graph.js';

export interface Progress {
  onEvent(e: GraphEvent): void;
  /** Resolves when the display has drawn its last frame. */
  finish(): Promise<void>;
}

export const silentProgress: Progress = {
  onEvent: () => undefined,
  finish: async () => undefined,
};

interface Pending {
  resolve: (o: NodeOutcome) => void;
  promise: Promise<NodeOutcome>;
  setTitle?: (t: string) => void;
}

const STAGES: Stage[] = ['build', 'sample', 'diagnose', 'report'];

/** Minimum time between two plain progress lines of one task. */
export const PLAIN_PROGRESS_MS = 5000;

function outcomeNote(o: NodeOutcome): string {
  const t = o.walltime_s > 0 ? ` [${o.walltime_s.toFixed(1)}s]` : '';
  const r = o.result as { reused?: boolean } | null | undefined;
  const reused = o.cached ? ' (reused, not run)' : r && typeof r === 'object' && r.reused ? ' (reused)' : '';
  const tries = o.attempts > 1 ? ` after ${o.attempts} attempts` : '';
  return `${t}${reused}${tries}`;
}

/** 'auto': listr2 on a terminal, plain lines otherwise. */
export function makeProgress(
  nodes: readonly GraphNode[],
  mode: 'auto' | 'plain' | 'silent',
  stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
): Progress {
  if (mode === 'silent') return silentProgress;
  if (mode === 'plain' || !stream.isTTY) return plainProgress(stream);
  return listrProgress(nodes);
}

/** One line per task event, with the time since the workflow started. */
export function plainProgress(stream: NodeJS.WritableStream, intervalMs = PLAIN_PROGRESS_MS): Progress {
  const t0 = performance.now();
  const line = (text: string): void => {
    const t = ((performance.now() - t0) / 1000).toFixed(1).padStart(6);
    stream.write(`[${t}s] ${text}\n`);
  };
  const lastLine = new Map<string, number>();
  return {
    onEvent(e) {
      if (e.type === 'progress') {
        const now = performance.now();
        const last = lastLine.get(e.node.id);
        if (last !== undefined && now - last < intervalMs) return;
        lastLine.set(e.node.id, now);
        line(`${e.node.label}: ${describeProgress(e.record.event)}`);
      } else if (e.type === 'started') line(`${e.node.label}: started${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`);
      else if (e.type === 'retry') line(`${e.node.label}: ${e.error.kind}: ${e.error.message.split('\n')[0]}; retrying`);
      else if (e.type === 'skipped' && e.outcome) line(`${e.node.label}: skipped: ${e.outcome.error?.message ?? e.outcome.status}`);
      else if (e.type === 'finished') {
        const o = e.outcome;
        if (o.status === 'done') line(`${e.node.label}: done${outcomeNote(o)}`);
        else line(`${e.node.label}: ${o.status}: ${o.error?.kind}: ${(o.error?.message ?? '').split('\n')[0]}${outcomeNote(o)}`);
      }
    },
    finish: async () => undefined,
  };
}

/** The listr2 display for terminals. */
export function listrProgress(nodes: readonly GraphNode[]): Progress {
  const pending = new Map<string, Pending>();
  for (const n of nodes) {
    let resolve!: (o: NodeOutcome) => void;
    const promise = new Promise<NodeOutcome>((r) => (resolve = r));
    pending.set(n.id, { resolve, promise });
  }
  const groups: ListrTask[] = STAGES.filter((s) => nodes.some((n) => n.stage === s)).map((stage) => {
    const members = nodes.filter((n) => n.stage === stage);
    return {
      title: `${stage} (${members.length})`,
      task: (_ctx, group) =>
        group.newListr(
          members.map((n): ListrTask => ({
            title: n.label,
            task: async (_c, task) => {
              const p = pending.get(n.id)!;
              p.setTitle = (t) => {
                task.title = t;
              };
              const o = await p.promise;
              const note = outcomeNote(o);
              if (o.status === 'done') {
                task.title = `${n.label}${note}`;
                return;
              }
              if (o.status === 'dependency_failed' || o.status === 'cancelled') {
                task.skip(`${n.label}: ${o.error?.message ?? o.status}`);
                return;
              }
              throw new Error(`${n.label}: ${o.error?.kind}: ${o.error?.message}${note}`);
            },
          })),
          { concurrent: true, exitOnError: false },
        ),
    };
  });
  const listr = new Listr(groups, {
    concurrent: true,
    exitOnError: false,
    // We handle Ctrl-C ourselves (stop submitting, kill workers, cancel jobs).
    registerSignalListeners: false,
    renderer: 'default',
    fallbackRenderer: 'simple',
    rendererOptions: { collapseSubtasks: false, collapseErrors: false },
    fallbackRendererOptions: { timestamp: undefined },
    processOutput: new ProcessOutput(process.stderr, process.stderr),
  } as ConstructorParameters<typeof Listr>[1]);
  const done = listr.run().then(
    () => undefined,
    () => undefined,
  );
  return {
    onEvent(e) {
      const p = pending.get(e.node.id);
      if (!p) return;
      if (e.type === 'started') p.setTitle?.(`${e.node.label}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''} …`);
      if (e.type === 'progress') p.setTitle?.(`${e.node.label}: ${describeProgress(e.record.event)}`);
      if (e.type === 'retry') p.setTitle?.(`${e.node.label}: ${e.error.kind}, retrying`);
      if ((e.type === 'finished' || e.type === 'skipped') && e.outcome) p.resolve(e.outcome);
    },
    finish: () => done,
  };
}
