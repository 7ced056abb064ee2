/**
 * Entry point of a validation case's child process (`validate --threads N`): receives one
 * case over IPC, runs it, replies with its row. One case per process, so the row's CPU seconds
 * are the case's own.
 */
import { enableRelaxedSimd } from '../engine/index.js';
import { parseContract, validationCaseJob, type ValidationCaseJob } from '../contracts/index.js';
import { runDlnJob, type CaseResult } from './suite.js';
import { runSingularJob } from './singular.js';

async function run(job: ValidationCaseJob): Promise<CaseResult> {
  return job.kind === 'dln' ? runDlnJob(job) : runSingularJob(job);
}

enableRelaxedSimd();
process.once('message', (raw: unknown) => {
  void (async () => {
    try {
      const job = parseContract(validationCaseJob, raw, 'validation case message', 'case');
      process.send?.({ ok: true, result: await run(job) });
    } catch (err) {
      process.send?.({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  })();
});
