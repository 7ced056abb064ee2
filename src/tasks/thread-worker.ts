/**
 * Entry point of a task in a worker thread (piscina). One task at a time per worker, so the
 * worker's stdout/stderr can be redirected into the task's own log files for its duration.
 */
import { appendFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { enableRelaxedSimd } from '../engine/index.js';
import { parseContract, threadTaskMessage, type ThreadTaskMessage, type WorkerReply } from '../contracts/index.js';
import { runTaskReply } from './run.js';
import { progressSink } from './progress.js';

type Write = typeof process.stdout.write;

/**
 * Tees this worker's process.stdout/stderr into the task's log files. This patches the worker's
 * own stream objects (each worker thread has its own process.stdout), restored afterwards.
 */
function redirect(stream: NodeJS.WriteStream, path: string): () => void {
  const original = stream.write;
  const patched = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    try {
      appendFileSync(path, typeof chunk === 'string' ? chunk : (chunk as Uint8Array));
    } catch {
      // A log that cannot be written must not fail the task.
    }
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  } as Write;
  stream.write = patched;
  return () => {
    stream.write = original;
  };
}

export default async function threadTask(message: unknown): Promise<WorkerReply> {
  // The same wasm kernels as the coordinator and every other worker (see enableRelaxedSimd).
  enableRelaxedSimd();
  let msg: ThreadTaskMessage;
  try {
    msg = parseContract(threadTaskMessage, message, `task message to worker thread ${threadId}`, 'thread task message');
  } catch (err) {
    return { ok: false, error: { kind: 'task_error', message: (err as Error).message }, walltime_s: 0, thread_id: threadId, pid: process.pid };
  }
  const restoreOut = redirect(process.stdout, msg.outPath);
  const restoreErr = redirect(process.stderr, msg.errPath);
  try {
    const port = msg.progressPort;
    const progress = progressSink(port ? (r) => port.postMessage(r) : () => undefined);
    const reply = await runTaskReply(msg.spec, `task message to worker thread ${threadId}`, { progress });
    if (!reply.ok) process.stderr.write(`task failed: ${reply.error.stack ?? reply.error.message}\n`);
    return { ...reply, thread_id: threadId, pid: process.pid };
  } finally {
    msg.progressPort?.close();
    restoreOut();
    restoreErr();
  }
}
