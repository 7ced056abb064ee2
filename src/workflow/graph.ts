/**
 * Runs a dependency graph of tasks on an executor. A node starts when all its dependencies
 * succeeded (the executor queues it until a worker is free); a failed node is retried up to
 * `retries` times; a node whose dependency failed is not run and carries the root cause; the
 * rest of the graph goes on. Cancellation (Ctrl-C) stops new submissions and asks the executor
 * to stop what runs.
 */
import type { JsonValue, ProgressRecord, Stage, TaskSpec } from '../contracts/index.js';
import type { Executor, TaskError } from '../executors/types.js';

export type { Stage };

export interface GraphNode {
  /** Unique, filesystem-safe ([A-Za-z0-9._-]). */
  id: string;
  stage: Stage;
  /** Human label for progress lines and tables. */
  label: string;
  deps: string[];
  /**
   * The spec to run, from the results of the dependencies (by node id; their full outcomes
   * too). Results arrive as JSON from a worker: check them against their contract.
   */
  spec: (deps: ReadonlyMap<string, JsonValue | undefined>, outcomes: ReadonlyMap<string, NodeOutcome>) => TaskSpec;
  /** Runs even when some dependencies failed (e.g. the report over whatever succeeded). */
  runDespiteFailedDeps?: boolean;
  /**
   * The task's result when its artifact is already complete (content addressing), so nothing
   * needs to run; undefined (or a throw) means run it.
   */
  reuse?: (spec: TaskSpec) => Promise<JsonValue | undefined>;
}

export type NodeStatus = 'done' | 'failed' | 'dependency_failed' | 'cancelled';

export interface NodeOutcome {
  id: string;
  stage: Stage;
  label: string;
  status: NodeStatus;
  result?: JsonValue;
  error?: TaskError;
  /** For dependency_failed: the node whose failure this one inherits, and its error. */
  root_cause?: { node: string; error: TaskError };
  attempts: number;
  walltime_s: number;
  /** True when the result came from the store without running the task. */
  cached?: boolean;
  log_path?: string;
  job_id?: string;
}

export type GraphEvent =
  | { type: 'queued' | 'skipped'; node: GraphNode; outcome?: NodeOutcome }
  | { type: 'started'; node: GraphNode; attempt: number }
  | { type: 'retry'; node: GraphNode; attempt: number; error: TaskError }
  | { type: 'progress'; node: GraphNode; record: ProgressRecord }
  | { type: 'finished'; node: GraphNode; outcome: NodeOutcome };

export interface RunGraphOptions {
  retries: number;
  signal?: AbortSignal;
  onEvent?: (e: GraphEvent) => void;
  /**
   * The workflow's time budget: after `deadline_ms` (Unix ms) no build or sample task starts,
   * and every sample task carries the deadline so that its chains end cleanly by then. Diagnose
   * and report tasks still run, so what was sampled is analysed.
   */
  budget?: { deadline_ms: number; seconds: number };
  /**
   * Cores of the machine the tasks share (threads and processes executors): a sample task that
   * starts while fewer tasks run than there are cores gets chain threads for the idle ones.
   */
  cores?: number;
}

/**
 * Chain threads for a sample task that starts while `others` other tasks run or wait for a
 * worker on `cores` cores: the cores nobody else will use.
 */
export function chainThreadsFor(cores: number, others: number): number {
  return Math.max(1, Math.floor(cores / (others + 1)));
}

export function validateGraph(nodes: readonly GraphNode[]): void {
  const ids = new Set<string>();
  for (const n of nodes) {
    if (ids.has(n.id)) throw new Error(`duplicate task id ${n.id}`);
    if (!/^[A-Za-z0-9._-]+$/.test(n.id)) throw new Error(`task id '${n.id}' must match [A-Za-z0-9._-]+`);
    ids.add(n.id);
  }
  for (const n of nodes) {
    for (const d of n.deps) if (!ids.has(d)) throw new Error(`task ${n.id} depends on unknown task ${d}`);
  }
  // Cycle check (depth-first, iterative colouring).
  const state = new Map<string, 1 | 2>();
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const visit = (id: string, path: string[]): void => {
    const s = state.get(id);
    if (s === 2) return;
    if (s === 1) throw new Error(`dependency cycle: ${[...path, id].join(' -> ')}`);
    state.set(id, 1);
    for (const d of byId.get(id)!.deps) visit(d, [...path, id]);
    state.set(id, 2);
  };
  for (const n of nodes) visit(n.id, []);
}

export async function runGraph(
  nodes: readonly GraphNode[],
  executor: Executor,
  opts: RunGraphOptions,
): Promise<Map<string, NodeOutcome>> {
  validateGraph(nodes);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const promises = new Map<string, Promise<NodeOutcome>>();
  // Tasks whose dependencies are done and that have not finished: running, waiting for a
  // worker, or on their way to the executor.
  let ready = 0;
  const budgetSkip = (node: GraphNode): string | null => {
    const b = opts.budget;
    if (!b || (node.stage !== 'build' && node.stage !== 'sample') || Date.now() < b.deadline_ms) return null;
    return `not started: the workflow's time budget of ${b.seconds} s was reached`;
  };
  const specAtStart = (node: GraphNode, spec: TaskSpec): TaskSpec => {
    if (spec.kind !== 'sample') return spec;
    return {
      ...spec,
      ...(opts.budget ? { deadline_ms: opts.budget.deadline_ms } : {}),
      ...(opts.cores ? { threads: chainThreadsFor(opts.cores, ready - 1) } : {}),
    };
  };
  const emit = (e: GraphEvent): void => {
    try {
      opts.onEvent?.(e);
    } catch {
      // Progress display problems must never change what runs.
    }
  };

  const outcomeOf = (id: string): Promise<NodeOutcome> => {
    let p = promises.get(id);
    if (!p) {
      p = runNode(byId.get(id)!);
      promises.set(id, p);
    }
    return p;
  };

  const runNode = async (node: GraphNode): Promise<NodeOutcome> => {
    emit({ type: 'queued', node });
    const deps = await Promise.all(node.deps.map(outcomeOf));
    if (deps.some((d) => d.status !== 'done') && !node.runDespiteFailedDeps) return settle(node, deps);
    ready++;
    try {
      // Tasks freed by the same dependency all count as ready before any of them starts.
      if (opts.cores) await new Promise((r) => setImmediate(r));
      return await execute(node, deps);
    } finally {
      ready--;
    }
  };

  /** A node whose dependency failed or was cancelled: not run. */
  const settle = (node: GraphNode, deps: NodeOutcome[]): NodeOutcome => {
    const base = { id: node.id, stage: node.stage, label: node.label };
    const bad = deps.find((d) => d.status !== 'done');
    if (bad && !node.runDespiteFailedDeps) {
      const outcome: NodeOutcome = bad.status === 'cancelled' || opts.signal?.aborted
        ? { ...base, status: 'cancelled', attempts: 0, walltime_s: 0, error: { kind: 'cancelled', message: `not started: ${bad.id} was cancelled` } }
        : {
            ...base,
            status: 'dependency_failed',
            attempts: 0,
            walltime_s: 0,
            root_cause: bad.root_cause ?? { node: bad.id, error: bad.error ?? { kind: 'task_error', message: 'failed' } },
            error: {
              kind: 'dependency_failed',
              message: `not run: ${bad.root_cause?.node ?? bad.id} failed: ${(bad.root_cause?.error ?? bad.error)?.message ?? 'unknown error'}`,
            },
          };
      emit({ type: 'skipped', node, outcome });
      return outcome;
    }
    throw new Error(`task ${node.id}: settled although its dependencies succeeded`);
  };

  /** Runs a node whose dependencies succeeded (or that runs despite failed ones). */
  const execute = async (node: GraphNode, deps: NodeOutcome[]): Promise<NodeOutcome> => {
    const base = { id: node.id, stage: node.stage, label: node.label };
    const depResults = new Map(deps.map((d) => [d.id, d.result]));
    let spec: TaskSpec;
    try {
      spec = node.spec(depResults, new Map(deps.map((d) => [d.id, d])));
    } catch (err) {
      const outcome: NodeOutcome = {
        ...base, status: 'failed', attempts: 0, walltime_s: 0,
        error: { kind: 'task_error', message: `cannot make the task spec: ${(err as Error).message}` },
      };
      emit({ type: 'finished', node, outcome });
      return outcome;
    }
    if (node.reuse && !opts.signal?.aborted) {
      let hit: JsonValue | undefined;
      try {
        hit = await node.reuse(spec);
      } catch {
        hit = undefined; // the task will find out for itself
      }
      if (hit !== undefined) {
        const outcome: NodeOutcome = { ...base, status: 'done', result: hit, attempts: 0, walltime_s: 0, cached: true };
        emit({ type: 'finished', node, outcome });
        return outcome;
      }
    }
    let walltime = 0;
    let last: TaskError | undefined;
    for (let attempt = 1; attempt <= opts.retries + 1; attempt++) {
      if (opts.signal?.aborted) {
        const outcome: NodeOutcome = { ...base, status: 'cancelled', attempts: attempt - 1, walltime_s: walltime, error: { kind: 'cancelled', message: 'cancelled before it started' } };
        emit({ type: 'finished', node, outcome });
        return outcome;
      }
      // Each attempt has its own spec/result/log files: a retry never reads a stale result.
      const key = attempt === 1 ? node.id : `${node.id}.retry${attempt - 1}`;
      const out = await executor.run({
        key,
        spec,
        atStart: () => {
          const skip = budgetSkip(node);
          return skip !== null ? { skip } : { spec: specAtStart(node, spec) };
        },
        onStart: () => {
          emit({ type: 'started', node, attempt });
        },
        onProgress: (record) => emit({ type: 'progress', node, record }),
      });
      walltime += out.walltime_s;
      if (out.ok) {
        const outcome: NodeOutcome = {
          ...base, status: 'done', result: out.result, attempts: attempt, walltime_s: walltime,
          ...(out.log_path ? { log_path: out.log_path } : {}),
          ...(out.job_id ? { job_id: out.job_id } : {}),
        };
        emit({ type: 'finished', node, outcome });
        return outcome;
      }
      last = out.error;
      if (out.error.kind === 'cancelled' || opts.signal?.aborted) {
        const outcome: NodeOutcome = { ...base, status: 'cancelled', attempts: attempt, walltime_s: walltime, error: out.error };
        emit({ type: 'finished', node, outcome });
        return outcome;
      }
      if (attempt <= opts.retries) emit({ type: 'retry', node, attempt, error: out.error });
    }
    const outcome: NodeOutcome = {
      ...base, status: 'failed', attempts: opts.retries + 1, walltime_s: walltime, error: last!,
      ...(last?.log_path ? { log_path: last.log_path } : {}),
      ...(last?.job_id ? { job_id: last.job_id } : {}),
    };
    emit({ type: 'finished', node, outcome });
    return outcome;
  };

  const all = await Promise.all(nodes.map((n) => outcomeOf(n.id)));
  return new Map(all.map((o) => [o.id, o]));
}
