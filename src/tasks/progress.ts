/**
 * The worker side of progress: a stage's events are stamped with the wall clock, sent to the
 * coordinator by whatever channel the entry point has (a worker thread's message port, or the
 * task's progress file for child processes and SLURM jobs), and written as a line to the task's
 * log, so `logs/<task>.out` shows the same progress as the workflow view.
 */
import { appendFileSync } from 'node:fs';
import { describeProgress, type ProgressRecord, type ProgressSink } from '../contracts/index.js';

export function progressSink(send: (r: ProgressRecord) => void, log: (line: string) => void = (l) => process.stdout.write(l)): ProgressSink {
  return (event) => {
    const t_ms = Date.now();
    try {
      send({ t_ms, event });
    } catch {
      // A coordinator that stopped listening must not fail the task.
    }
    log(`[${new Date(t_ms).toISOString()}] ${describeProgress(event)}\n`);
  };
}

/** Appends each record as one JSON line to `path` (the coordinator reads complete lines only). */
export function progressFileSender(path: string): (r: ProgressRecord) => void {
  return (r) => appendFileSync(path, `${JSON.stringify(r)}\n`);
}
