import type { Command } from 'commander';
import { applySets, formatConfigError } from '../config/load.js';
import { formatTable, runValidation, type CaseResult } from '../validate/suite.js';
import { samplerNames } from '../samplers/registry.js';

/**
 * `lambda-hat validate [--sampler sgld] [--set k=v]... [--json] [--quick]`: the ground-truth
 * suite (quadratic identity, a regular linear layer, deep linear networks against Aoyagi).
 * Exit status 1 when a case fails.
 */
export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Check a sampler against known learning coefficients (quadratic, linear, deep linear networks)')
    .option('--sampler <name>', `sampler to validate (${samplerNames().join(', ')})`, 'sgld')
    .option('--set <k=v>', 'sampler override (YAML value); repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--json', 'print the results as JSON')
    .option('--quick', 'smaller n and fewer steps (a smoke test, not a verdict)')
    .option('--seed <n>', 'seed', (v) => Number.parseInt(v, 10), 0)
    .action(async (opts: { sampler: string; set: string[]; json?: boolean; quick?: boolean; seed: number }) => {
      let overrides: Record<string, unknown>;
      try {
        overrides = applySets({}, opts.set) as Record<string, unknown>;
      } catch (err) {
        throw new Error(formatConfigError(err));
      }
      const onCase = (r: CaseResult): void => {
        if (!opts.json) process.stderr.write(`${r.case}: lambda-hat ${r.lambda_hat.toFixed(3)} vs ${r.truth.toFixed(3)} (${r.wall_s.toFixed(1)} s)\n`);
      };
      const rows = await runValidation({ sampler: opts.sampler, overrides, quick: opts.quick ?? false, seed: opts.seed, onCase });
      if (opts.json) process.stdout.write(`${JSON.stringify({ sampler: opts.sampler, overrides, quick: opts.quick ?? false, cases: rows }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
      else process.stdout.write(`${formatTable(rows)}\n`);
      if (rows.some((r) => !r.pass)) process.exitCode = 1;
    });
}
