/**
 * Entry point of a task in its own process: `node child.js SPEC.json RESULT.json [PROGRESS.jsonl]`.
 * Run by the process executor (one fresh process per task) and inside SLURM job scripts.
 *
 * The result file is the only channel back: it is written atomically (temp name + rename), so
 * the coordinator never reads half a result, and a worker that dies before writing it is
 * reported from its exit status, signal and stderr. Exit status: 0 done, 1 task error,
 * 2 bad invocation. Progress events (src/contracts/progress.ts) are appended, one JSON line each,
 * to PROGRESS.jsonl when given (the coordinator polls it) and written to stdout (the task log).
 */
import { readFileSync } from 'node:fs';
import { enableRelaxedSimd } from '../engine/index.js';
import { writeJsonAtomic } from '../store/index.js';
import type { WorkerReply } from '../contracts/index.js';
import { runTaskReply } from './run.js';
import { progressFileSender, progressSink } from './progress.js';

async function childMain(argv: string[]): Promise<number> {
  const [specPath, resultPath, progressPath] = argv;
  if (!specPath || !resultPath) {
    process.stderr.write('usage: child.js SPEC.json RESULT.json [PROGRESS.jsonl]\n');
    return 2;
  }
  // The same wasm kernels as the coordinator and every other worker (see enableRelaxedSimd).
  enableRelaxedSimd();
  let spec: unknown;
  try {
    spec = JSON.parse(readFileSync(specPath, 'utf8'));
  } catch (err) {
    process.stderr.write(`${specPath}: cannot read the task spec: ${(err as Error).message}\n`);
    return 2;
  }
  const progress = progressSink(progressPath ? progressFileSender(progressPath) : () => undefined);
  const reply = await runTaskReply(spec, specPath, { progress });
  if (!reply.ok) process.stderr.write(`task failed: ${reply.error.stack ?? reply.error.message}\n`);
  const written: WorkerReply = { ...reply, pid: process.pid };
  writeJsonAtomic(resultPath, written);
  return reply.ok ? 0 : 1;
}

childMain(process.argv.slice(2)).then(
  // Exit explicitly: a stage that leaves a timer or handle open must not keep the worker alive.
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`lambda-hat task runner: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
