/**
 * The tuning section of the report: per search (problem x method) the reference, the best
 * settings (as a `--set` line and a sampler entry), the Pareto table of accuracy against work,
 * and the plots; then the ε-β table. Plain HTML with inline SVG (no scripts, no network), as the
 * run report; every number carries its exact value in `data-value`.
 */
import type { StudyFile } from '../contracts/index.js';
import { bestTrial, samplerEntryLine, searches, setLine, type TrialRow } from '../tune/outputs.js';
import { escapeHtml } from './html.js';

function fmt(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined) return '–';
  const a = Math.abs(v);
  if (v !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(digits - 1);
  return String(Number(v.toPrecision(digits)));
}

function num(key: string, v: number | null | undefined, digits = 4): string {
  return `<td class="num" data-key="${key}" data-value="${v === null || v === undefined ? '' : String(v)}">${escapeHtml(fmt(v, digits))}</td>`;
}

function pct(v: number | null): string {
  return v === null ? '–' : `${(v * 100).toFixed(2)}%`;
}

export interface TuneSectionInput {
  file: StudyFile;
  rows: readonly TrialRow[];
  plots: readonly { name: string; title: string; svg: string }[];
  epsRows: readonly TrialRow[];
}

/** The section (an HTML fragment) a report page embeds. */
export function tuneSection({ file, rows, plots, epsRows }: TuneSectionInput): string {
  const parts: string[] = [`<section class="tune" id="tuning"><h2>Tuning: ${escapeHtml(file.name)}</h2>`];
  parts.push('<h3>References</h3><table><tr><th>problem</th><th>target</th><th>reference λ</th><th>± MCSE</th><th>source</th></tr>');
  for (const p of file.problems) {
    const r = p.reference;
    parts.push(`<tr><td>${p.index}</td><td>${escapeHtml(p.target_id)}</td>${r?.per_trial ? '<td>per trial</td>' : num('reference', r?.value)}${num('reference_mcse', r?.mcse ?? null)}<td>${escapeHtml(r ? `${r.kind}: ${r.source}` : 'none (no trials)')}</td></tr>`);
  }
  parts.push('</table>');
  for (const s of searches(file)) {
    const best = bestTrial(s.trials);
    const failed = s.trials.filter((t) => t.state !== 'complete').length;
    parts.push(`<h3>${escapeHtml(s.method)} on problem ${s.problem}: ${s.trials.length} trials${failed > 0 ? `, ${failed} failed or timed out (penalised)` : ''}</h3>`);
    if (best) {
      parts.push(`<p>Best: trial ${best.number}, λ̂ = ${escapeHtml(fmt(best.llc_mean))} ± ${escapeHtml(fmt(best.llc_mcse, 2))} (MCSE) against ${escapeHtml(fmt(best.reference))} (${escapeHtml(pct(best.rel_error))}), ${escapeHtml(fmt(best.total_fge))} FGE, ${escapeHtml(fmt(best.walltime_s, 3))} s.</p>`);
      parts.push(`<pre class="best" data-key="set_line">lambda-hat sample --target ${escapeHtml(file.problems.find((p) => p.index === s.problem)?.target_id ?? 'ID')} --sampler ${escapeHtml(s.method)} ${escapeHtml(setLine(best))}\n${escapeHtml(samplerEntryLine(best))}</pre>`);
    }
    const front = rows.filter((r) => r.problem === s.problem && r.method === s.method && r.pareto === 'yes');
    parts.push('<table class="pareto"><caption>Pareto front: no other trial is both more accurate and cheaper</caption>');
    parts.push('<tr><th>trial</th><th>λ̂</th><th>± MCSE</th><th>rel. error</th><th>work (FGE)</th><th>wall time (s)</th><th>settings</th></tr>');
    for (const r of front) {
      parts.push(`<tr><td>${r.number}</td>${num('llc_mean', r.llc_mean)}${num('llc_mcse', r.llc_mcse, 2)}<td class="num" data-key="rel_error" data-value="${r.rel_error ?? ''}">${escapeHtml(pct(r.rel_error))}</td>${num('total_fge', r.total_fge)}${num('walltime_s', r.walltime_s, 3)}<td><code>${escapeHtml(r.set_line)}</code></td></tr>`);
    }
    parts.push('</table>');
  }
  parts.push('<p>The objective ranks trials by their error alone, as the Python tuner does: a trial whose error is small next to its MCSE may owe it to chance; the Pareto table shows each MCSE.</p>');
  for (const p of plots) parts.push(`<figure><figcaption>${escapeHtml(p.title)}</figcaption>${p.svg}</figure>`);
  if (epsRows.length > 0) {
    parts.push('<h3>ε-β sweep</h3><table class="eps-beta"><tr><th>method</th><th>step ε</th><th>nβ</th><th>λ̂</th><th>rel. error</th></tr>');
    for (const r of [...epsRows].sort((a, b) => a.nbeta! - b.nbeta! || a.step_size! - b.step_size!)) {
      parts.push(`<tr><td>${escapeHtml(r.method)}</td>${num('step_size', r.step_size)}${num('nbeta', r.nbeta)}${num('llc_mean', r.llc_mean)}<td class="num" data-key="rel_error" data-value="${r.rel_error ?? ''}">${escapeHtml(pct(r.rel_error))}</td></tr>`);
    }
    parts.push('</table>');
  }
  parts.push('</section>');
  return parts.join('\n');
}
