import type { Command } from 'commander';
import { applySets, formatConfigError } from '../config/load.js';
import { formatTable, OWN_MODEL_SUITES, runOwnModelSuite, runValidation, suiteSummary, type CaseResult, type OwnModelSuite } from '../validate/suite.js';
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
    .option('--suite <name>', `known-coefficient suite: dln (default), ${OWN_MODEL_SUITES.join(', ')} (networks written as PyTorch writes them, run through llc)`, 'dln')
    .option('--cases <n>', 'number of random cases of a logistic or restricted-dln suite (default 24, --quick 4)', (v) => Number.parseInt(v, 10))
    .option('--family-seed <n>', 'seed of the random family of a logistic or restricted-dln suite', (v) => Number.parseInt(v, 10), 1)
    .action(async (opts: { sampler: string; set: string[]; json?: boolean; quick?: boolean; seed: number; suite: string; cases?: number; familySeed: number }) => {
      if (opts.suite !== 'dln' && !(OWN_MODEL_SUITES as readonly string[]).includes(opts.suite)) {
        throw new Error(`--suite must be dln, ${OWN_MODEL_SUITES.join(' or ')}, got '${opts.suite}'`);
      }
      let overrides: Record<string, unknown>;
      try {
        overrides = applySets({}, opts.set) as Record<string, unknown>;
      } catch (err) {
        throw new Error(formatConfigError(err));
      }
      const onCase = (r: CaseResult): void => {
        if (!opts.json) process.stderr.write(`${r.case}: lambda-hat ${r.lambda_hat.toFixed(3)} vs ${r.truth.toFixed(3)} (${r.wall_s.toFixed(1)} s)\n`);
      };
      const common = { sampler: opts.sampler, overrides, quick: opts.quick ?? false, seed: opts.seed, onCase };
      const rows =
        opts.suite === 'dln'
          ? await runValidation(common)
          : await runOwnModelSuite({ ...common, suite: opts.suite as OwnModelSuite, familySeed: opts.familySeed, ...(opts.cases ? { cases: opts.cases } : {}) });
      const summary = opts.suite === 'dln' ? undefined : suiteSummary(rows);
      if (opts.json) process.stdout.write(`${JSON.stringify({ sampler: opts.sampler, suite: opts.suite, overrides, quick: opts.quick ?? false, ...(summary ? { summary } : {}), cases: rows }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
      else {
        process.stdout.write(`${formatTable(rows)}\n`);
        if (summary) {
          process.stdout.write(
            `|relative error|: worst ${(100 * summary.worst).toFixed(1)}%, median ${(100 * summary.median).toFixed(1)}%; ` +
              `${summary.within10}/${summary.cases} within 10%\n`,
          );
        }
      }
      if (rows.some((r) => !r.pass)) process.exitCode = 1;
    });
}
