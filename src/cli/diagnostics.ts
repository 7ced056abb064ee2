import type { Command } from 'commander';
import { SUMMARY_KEYS, summarize, toJsonSafe, type Summary } from '../diagnostics/index.js';
import { readChainsFile } from '../diagnostics/read-chains.js';

/** The JSON contract: the six statistics in a fixed order, `reasons` only when one is null. */
export function diagnosticsJson(summary: Summary): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of SUMMARY_KEYS) out[key] = summary[key];
  if (Object.keys(summary.reasons).length > 0) out['reasons'] = summary.reasons;
  return toJsonSafe(out);
}

function formatValue(v: number): string {
  // Six significant digits: enough to compare runs, short enough to read; no exponent for the
  // usual magnitudes of R-hat, ESS and LLC values.
  return String(Number(v.toPrecision(6)));
}

/** The human-readable table printed without --json. */
export function diagnosticsTable(
  summary: Summary,
  source: string,
  shape: { chains: number; draws: number },
): string {
  const lines = [`${source}: ${shape.chains} chains x ${shape.draws} draws`];
  const width = Math.max(...SUMMARY_KEYS.map((k) => k.length));
  for (const key of SUMMARY_KEYS) {
    const v = summary[key];
    const cell = v === null ? `-  (${summary.reasons[key] ?? 'not computed'})` : formatValue(v);
    lines.push(`  ${key.padEnd(width)}  ${cell}`);
  }
  return lines.join('\n') + '\n';
}

export function registerDiagnostics(program: Command): void {
  program
    .command('diagnostics')
    .description(
      'R-hat, bulk/tail ESS, MCSE of the mean, mean and sd (ArviZ 0.23 definitions) of a ' +
        '[chain][draw] array in a .json (array of arrays), .npy (2-D) or .csv (one column per ' +
        'chain) file',
    )
    .argument('<file>', 'draws as .json, .npy or .csv')
    .option('--json', 'print JSON {"rhat","ess_bulk","ess_tail","mcse_mean","mean","sd"}')
    .action(async (file: string, opts: { json?: boolean }) => {
      const chains = await readChainsFile(file);
      const summary = summarize(chains);
      const text = opts.json
        ? JSON.stringify(diagnosticsJson(summary), null, 2) + '\n'
        : diagnosticsTable(summary, file, {
            chains: chains.length,
            draws: chains[0]?.length ?? 0,
          });
      process.stdout.write(text);
    });
}
