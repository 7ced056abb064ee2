/**
 * The trust column: `ok`, or `warn (N): <most serious reason>`, for every place a λ̂ is shown
 * (the workflow's printed table, results.csv/.feather, the HTML report). The reasons are the
 * run's analysis.json `warnings`, the target's own conditions (w* not a minimum: the training's
 * final gradient norm) and cross-sampler disagreement; each is shortened to a few words
 * (`R-hat 1.44`, `w* not a minimum`, `variational`) and the most serious one is shown first.
 * A row with any reason is never `ok`.
 */
import { GRAD_NORM_WARN } from '../targets/build.js';

export interface TrustReason {
  /** A few words for tables, e.g. "R-hat 1.44". */
  short: string;
  /** The full warning, as written in analysis.json or meta.json. */
  full: string;
  /** Lower is more serious; the table shows the most serious reason. */
  severity: number;
}

export interface Trust {
  /** "ok" or "warn (N): <short reason>". */
  label: string;
  reasons: TrustReason[];
}

/** Patterns of the warnings the analysis and the target build write, most serious first. */
const PATTERNS: { re: RegExp; short: (m: RegExpMatchArray) => string }[] = [
  { re: /^burn-in of \d+ draws discards all/, short: () => 'no draws after burn-in' },
  { re: /^chain (\d+) failed/, short: (m) => `chain ${m[1]} failed` },
  { re: /^only (\d+) of (\d+) chains are usable/, short: (m) => `${m[1]}/${m[2]} chains usable` },
  { re: /^w\* not a minimum/, short: () => 'w* not a minimum' },
  { re: /^(training ended with gradient norm|w\* is the teacher, but the labels are noisy)/, short: () => 'w* not a minimum' },
  { re: /^negative λ̂/, short: () => 'negative λ̂' },
  { re: /^R-hat ([\d.]+)/, short: (m) => `R-hat ${m[1]}` },
  { re: /^(\d+) divergent transition/, short: (m) => `${m[1]} divergences` },
  { re: /^variational estimate/, short: () => 'variational' },
  { re: /^minibatch gradient noise ([\d.]+)/, short: (m) => `gradient noise ${m[1]}` },
  { re: /^disagrees with (.+?):.*\(z = ([\d.]+)/, short: (m) => `disagrees with ${m[1]!.replace(/^consensus of .*/, 'the others')} (z ${m[2]})` },
  { re: /^step lowered ([\d.]+)x while recording/, short: (m) => `step lowered ${m[1]}x` },
  { re: /^running λ̂ still drifting/, short: () => 'λ̂ drifting' },
  { re: /^stopped at (its|the workflow's) time budget/, short: () => 'cut short by time budget' },
  { re: /^low acceptance ([\d.]+)/, short: (m) => `acceptance ${m[1]}` },
  { re: /^E-BFMI below/, short: () => 'low E-BFMI' },
  { re: /^bulk ESS ([\d.e+]+)/, short: (m) => `ESS ${m[1]}` },
  { re: /^tail ESS ([\d.e+]+)/, short: (m) => `tail ESS ${m[1]}` },
  { re: /^chains have unequal lengths/, short: () => 'unequal chains' },
  { re: /^(.+?) not computed:/, short: (m) => `${m[1]} not computed` },
];

/** Shortens one warning; an unknown one keeps its text up to the first colon. */
export function trustReason(warning: string): TrustReason {
  for (let i = 0; i < PATTERNS.length; i++) {
    const m = PATTERNS[i]!.re.exec(warning);
    if (m) return { short: PATTERNS[i]!.short(m), full: warning, severity: i };
  }
  const head = warning.split(':')[0]!.trim();
  return { short: head.length > 40 ? `${head.slice(0, 39)}…` : head, full: warning, severity: PATTERNS.length };
}

/** The part of a target's meta.json the trust column reads. */
export interface TargetTrustInput {
  warnings?: unknown;
  training?: { init?: string; final_grad_norm?: number };
}

/**
 * The target's reasons: meta.json's warnings, and w* not a minimum when the final gradient norm
 * exceeds GRAD_NORM_WARN even if the meta (e.g. written by an older version) does not say so.
 */
export function targetWarnings(meta: TargetTrustInput | null): string[] {
  if (meta === null) return [];
  const out = Array.isArray(meta.warnings) ? meta.warnings.map(String) : [];
  const g = meta.training?.final_grad_norm;
  const exact = meta.training?.init === 'exact';
  if (!exact && typeof g === 'number' && g > GRAD_NORM_WARN && !out.some((w) => trustReason(w).short === 'w* not a minimum')) {
    out.push(`w* not a minimum: the final gradient norm of training is ${g.toExponential(2)} > ${GRAD_NORM_WARN}`);
  }
  return out;
}

/** The trust of one estimate from all its warnings (target, analysis, agreement). */
export function trustOf(warnings: readonly string[]): Trust {
  const reasons = warnings.map(trustReason).sort((a, b) => a.severity - b.severity);
  const label = reasons.length === 0 ? 'ok' : `warn (${reasons.length}): ${reasons[0]!.short}`;
  return { label, reasons };
}
