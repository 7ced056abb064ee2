/**
 * Entry point of a task in a worker thread (piscina). One task at a time per worker, so the
 * worker's stdout/stderr can be redirected into the task's own log files for its duration.
 */
import { appendFileSync } from 'node:fs';
import { runTaskReply, type AnyTaskSpec, type WorkerReply } from './run.js';

export interface ThreadTaskMessage {
  spec: AnyTaskSpec;
  outPath: string;
  errPath: string;
}

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

export default async function threadTask(msg: ThreadTaskMessage): Promise<WorkerReply & { thread_id: number; pid: number }> {
  const restoreOut = redirect(process.stdout, msg.outPath);
  const restoreErr = redirect(process.stderr, msg.errPath);
  try {
    const reply = await runTaskReply(msg.spec);
    if (!reply.ok) process.stderr.write(`task failed: ${reply.error.stack ?? reply.error.message}\n`);
    const { threadId } = await import('node:worker_threads');
    return { ...reply, thread_id: threadId, pid: process.pid };
  } finally {
    restoreOut();
    restoreErr();
  }
}
