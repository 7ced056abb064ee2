import type { Command } from 'commander';
import { applySets, formatConfigError } from '../config/load.js';
import { formatTable, runOwnModelSuite, runValidation, suiteSummary, type CaseResult } from '../validate/suite.js';
import { errorSummary, runDlnWide, WIDE_RANGES } from '../validate/dln-wide.js';
import { runSingular, SINGULAR_SAMPLERS } from '../validate/singular.js';
import { samplerNames } from '../samplers/registry.js';

const SUITES = ['default', 'dln-wide', 'singular', 'logistic', 'restricted-dln'] as const;
type Suite = (typeof SUITES)[number];

/**
 * `lambda-hat validate [--suite default|dln-wide|singular] [--sampler sgld] [--set k=v]...
 * [--json] [--quick] [--cases N] [--threads N]`: the ground-truth suites. Exit status 1 when a
 * case fails.
 *   default   quadratic identity, a regular linear layer, deep linear networks (Aoyagi)
 *   dln-wide  random deep linear networks (2-5 layers, widths 3-20, ranks 0..full, n 1e3-1e5)
 *             at the sampler's defaults; the bar is 10% of Aoyagi's lambda for every network
 *   singular  known answers beyond DLNs (normal crossing, separable monomials, reduced-rank
 *             regression at the origin) for every sampler, or the one --sampler names
 *   logistic, restricted-dln  networks written as PyTorch writes them, run through `llc`:
 *             logistic regressions at the MLE and restricted MLP heads ((K - 1)(d + 1) / 2), deep
 *             linear networks restricted to one layer (rank(A) rank(B) / 2); --cases random draws
 */
export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Check a sampler against known learning coefficients (quadratic, linear, deep linear networks, singular known answers)')
    .option('--suite <name>', `which suite (${SUITES.join(', ')})`, 'default')
    .option('--sampler <name>', `sampler to validate (${samplerNames().join(', ')}); singular: all of ${SINGULAR_SAMPLERS.join(', ')} unless given`)
    .option('--set <k=v>', 'sampler override (YAML value); repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--json', 'print the results as JSON')
    .option('--quick', 'smaller n and fewer steps (a smoke test, not a verdict)')
    .option('--cases <n>', 'dln-wide, logistic, restricted-dln: number of random networks', (v) => Number.parseInt(v, 10), 30)
    .option('--chains <n>', 'chains per case', (v) => Number.parseInt(v, 10), 4)
    .option('--threads <n>', 'cases run at once, each in its own process (dln-wide, singular)', (v) => Number.parseInt(v, 10), 1)
    .option('--seed <n>', 'seed', (v) => Number.parseInt(v, 10), 0)
    .action(async (opts: { suite: string; sampler?: string; set: string[]; json?: boolean; quick?: boolean; cases: number; chains: number; threads: number; seed: number }) => {
      if (!(SUITES as readonly string[]).includes(opts.suite)) throw new Error(`--suite ${opts.suite}: unknown suite; use one of ${SUITES.join(', ')}`);
      const suite = opts.suite as Suite;
      for (const [k, v] of [['--cases', opts.cases], ['--chains', opts.chains], ['--threads', opts.threads]] as const) {
        if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be a positive integer, got ${String(v)}`);
      }
      let overrides: Record<string, unknown>;
      try {
        overrides = applySets({}, opts.set) as Record<string, unknown>;
      } catch (err) {
        throw new Error(formatConfigError(err));
      }
      const started = Date.now();
      let done = 0;
      const onCase = (r: CaseResult): void => {
        done++;
        // Progress goes to stderr even with --json (whose document is stdout's): a dln-wide run
        // takes half an hour.
        process.stderr.write(
          `[${done}] ${r.sampler ? `${r.sampler} ` : ''}${r.case}: lambda-hat ${r.lambda_hat.toFixed(3)} vs ${r.truth.toFixed(3)} (${(100 * r.rel_error).toFixed(1)}%, ${r.cpu_s.toFixed(1)} s cpu, ${((Date.now() - started) / 1000).toFixed(0)} s elapsed)\n`,
        );
      };
      let rows: CaseResult[];
      let summary = '';
      const sampler = opts.sampler ?? 'sgld';
      if (suite === 'dln-wide') {
        process.stderr.write(
          `dln-wide: ${opts.cases} networks (seed ${opts.seed}): ${WIDE_RANGES.layers.join('-')} layers, widths ${WIDE_RANGES.width.join('-')}, ranks 0..full, n 1e${WIDE_RANGES.logN[0]}-1e${WIDE_RANGES.logN[1]}; ${sampler}, ${opts.chains} chains, ${opts.threads} at once\n`,
        );
        rows = await runDlnWide({ sampler, overrides, cases: opts.cases, seed: opts.seed, chains: opts.chains, threads: opts.threads, onCase });
        const s = errorSummary(rows);
        summary =
          `worst |error| ${(100 * Math.abs(s.worst?.rel_error ?? Number.NaN)).toFixed(1)}% (${s.worst?.case ?? '-'}), median |error| ${(100 * s.median_abs_error).toFixed(1)}%, ` +
          `${s.passed}/${rows.length} within 10%, ${s.cpu_s.toFixed(0)} cpu s in all (${(s.cpu_s / Math.max(1, rows.length)).toFixed(0)} per case)`;
      } else if (suite === 'logistic' || suite === 'restricted-dln') {
        rows = await runOwnModelSuite({ suite, sampler, overrides, cases: opts.quick ? Math.min(4, opts.cases) : opts.cases, seed: opts.seed, chains: opts.chains, onCase });
        const s = suiteSummary(rows);
        summary =
          `|relative error|: worst ${(100 * s.worst).toFixed(1)}%, median ${(100 * s.median).toFixed(1)}%; ${s.within10}/${s.cases} within 10%, ` +
          `${rows.reduce((a, r) => a + r.cpu_s, 0).toFixed(0)} cpu s in all`;
      } else if (suite === 'singular') {
        rows = await runSingular({ samplers: opts.sampler ? [opts.sampler] : [...SINGULAR_SAMPLERS], overrides, quick: opts.quick ?? false, seed: opts.seed, chains: opts.chains, threads: opts.threads, onCase });
        summary = `${rows.filter((r) => r.pass).length}/${rows.length} within tolerance, ${rows.reduce((s, r) => s + r.cpu_s, 0).toFixed(0)} cpu s in all`;
      } else {
        rows = await runValidation({ sampler, overrides, quick: opts.quick ?? false, seed: opts.seed, chains: opts.chains, onCase });
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ suite, sampler: opts.sampler ?? null, overrides, quick: opts.quick ?? false, seed: opts.seed, cases: rows }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
      } else {
        process.stdout.write(`${formatTable(rows)}\n${summary ? `${summary}\n` : ''}`);
      }
      if (rows.some((r) => !r.pass)) process.exitCode = 1;
    });
}
