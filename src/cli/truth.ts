import type { Command } from 'commander';
import {
  dlnLearningCoefficient,
  rationalToString,
  type DlnTruth,
} from '../posterior/truth.js';

/** Parses "5,3,5" strictly: every entry a positive integer, no empty entries. */
export function parseWidths(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length < 2 || parts.some((p) => !/^\d+$/.test(p))) {
    throw new Error(
      `--widths must be at least two comma-separated positive integers [in, hidden..., out], got '${text}'`,
    );
  }
  const widths = parts.map(Number);
  const bad = widths.findIndex((w) => w <= 0 || !Number.isSafeInteger(w));
  if (bad >= 0) throw new Error(`--widths entries must be positive integers, entry ${bad + 1} is '${parts[bad]}'`);
  return widths;
}

function parseRank(text: string): number {
  if (!/^\d+$/.test(text.trim())) {
    throw new Error(`--rank must be a non-negative integer, got '${text}'`);
  }
  return Number(text.trim());
}

/** JSON printed by `truth dln --json`. */
export function truthJson(widths: number[], rank: number, t: DlnTruth): Record<string, unknown> {
  return {
    widths,
    rank,
    lambda: t.lambda,
    lambda_exact: rationalToString(t.lambdaExact),
    multiplicity: t.multiplicity,
    d: t.d,
    regular_lambda: t.d / 2,
  };
}

export function registerTruth(program: Command): void {
  const truth = program
    .command('truth')
    .description('Known learning coefficients (ground truth for LLC estimates)');
  truth
    .command('dln')
    .description(
      "Aoyagi's learning coefficient of a deep linear network (Aoyagi 2024; Furman & Lau 2024, Thm B.1)",
    )
    .requiredOption('--widths <list>', 'layer widths in,hidden...,out, e.g. 5,3,5')
    .requiredOption('--rank <r>', 'rank of the true product matrix')
    .option('--json', 'print JSON')
    .action((opts: { widths: string; rank: string; json?: boolean }) => {
      const widths = parseWidths(opts.widths);
      const rank = parseRank(opts.rank);
      const t = dlnLearningCoefficient(widths, rank);
      if (opts.json) {
        process.stdout.write(JSON.stringify(truthJson(widths, rank, t), null, 2) + '\n');
        return;
      }
      const exact = rationalToString(t.lambdaExact);
      process.stdout.write(
        [
          `deep linear network widths ${widths.join(',')}, true rank ${rank}`,
          `  lambda        ${t.lambda}${exact.includes('/') ? ` (= ${exact})` : ''}`,
          `  multiplicity  ${t.multiplicity}`,
          `  d             ${t.d}  (regular d/2 = ${t.d / 2})`,
        ].join('\n') + '\n',
      );
    });
}
