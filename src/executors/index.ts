/** Creates the executor a card asks for. */
import type { Card } from '../config/cards.js';
import { ProcessExecutor } from './processes.js';
import { SlurmExecutor } from './slurm.js';
import { ThreadExecutor } from './threads.js';
import type { Executor, ExecutorDirs } from './types.js';

export type { Executor, ExecutorDirs, TaskError, TaskOutcome, TaskRequest, ErrorKind } from './types.js';
export { ProcessExecutor } from './processes.js';
export { ThreadExecutor } from './threads.js';
export { SlurmExecutor, slurmAvailable } from './slurm.js';

export function createExecutor(
  card: Card,
  dirs: ExecutorDirs,
  env: NodeJS.ProcessEnv = process.env,
): Executor {
  const common = { maxWorkers: card.max_workers, dirs, workerInit: card.worker_init, env };
  switch (card.executor) {
    case 'threads':
      return new ThreadExecutor(common);
    case 'processes':
      return new ProcessExecutor(common);
    case 'slurm':
      return new SlurmExecutor({ ...common, slurm: card });
  }
}
