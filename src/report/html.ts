/**
 * HTML of the report: plain markup with inline CSS, no scripts and no external resources, so
 * it opens from disk and in a browser without network access. Every number in the summary
 * table carries its full-precision value in `data-value` for tools (and tests) that read it.
 */
import type { FailedPair } from './collect.js';
import type { ReportRow } from './index.js';
import { AGREEMENT_Z } from '../workflow/agreement.js';

export interface HtmlInput {
  title: string;
  rows: ReportRow[];
  comparison: { name: string; title: string; svg: string; png: string }[];
  failures: FailedPair[];
  config?: unknown;
  /** Further sections (HTML fragments), placed after the results, e.g. a tuning study's. */
  sections?: string[];
  generatedAt: string;
  codeVersion: string;
}

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function fmt(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined) return '–';
  const a = Math.abs(v);
  if (v !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(digits - 1);
  return String(Number(v.toPrecision(digits)));
}

/** A table cell with its display text and its exact value. */
function numCell(key: string, v: number | null | undefined, digits = 4, extra = ''): string {
  const value = v === null || v === undefined ? '' : String(v);
  return `<td class="num" data-key="${key}" data-value="${value}">${escapeHtml(fmt(v, digits))}${extra}</td>`;
}

function runAnchor(r: ReportRow): string {
  return `run-${r.run_id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

function summaryTable(rows: ReportRow[]): string {
  const head = [
    'target', 'sampler', 'λ̂', '± MCSE', 'R-hat', 'ESS bulk', 'ESS tail', 'work (FGE)', 'wall time (s)',
    'truth λ', 'rel. error', 'trust', 'warnings',
  ];
  const body = rows.map((r) => {
    const a = r.analysis;
    const nWarn = r.trust.reasons.length;
    const cls = r.error !== null ? 'failed' : nWarn > 0 ? 'warn' : 'ok';
    const warnCell =
      r.error !== null
        ? `<td class="warnings" data-key="warnings" data-value="error"><a href="#${runAnchor(r)}">error</a></td>`
        : `<td class="warnings" data-key="warnings" data-value="${nWarn}">${
            nWarn === 0 ? 'none' : `<a href="#${runAnchor(r)}">${nWarn} warning${nWarn === 1 ? '' : 's'}</a>`
          }</td>`;
    return [
      `<tr class="run-row ${cls}" data-run-id="${escapeHtml(r.run_id)}">`,
      `<td data-key="target_id">${escapeHtml(r.target_id ?? '?')}</td>`,
      `<td data-key="sampler"><a href="#${runAnchor(r)}">${escapeHtml(r.sampler ?? '?')}</a></td>`,
      numCell('llc_mean', a?.llc_mean),
      numCell('llc_mcse', a?.llc_mcse, 2),
      numCell('r_hat', a?.r_hat),
      numCell('ess_bulk', a?.ess_bulk, 4),
      numCell('ess_tail', a?.ess_tail, 4),
      numCell('total_fge', a?.total_fge, 6),
      numCell('walltime_s', a?.walltime_s, 3),
      numCell('truth', r.truth?.value ?? null, 5),
      numCell('rel_error', r.rel_error, 3),
      r.error !== null
        ? '<td class="trust" data-key="trust" data-value="error">no estimate</td>'
        : `<td class="trust" data-key="trust" data-value="${escapeHtml(r.trust.label)}">${escapeHtml(r.trust.label)}</td>`,
      warnCell,
      '</tr>',
    ].join('');
  });
  return [
    '<table class="summary" id="summary">',
    `<thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>`,
    `<tbody>${body.join('\n')}</tbody>`,
    '</table>',
  ].join('\n');
}

function figure(p: { name: string; title?: string; svg: string; png: string }, alt: string): string {
  // SVG for a crisp page, PNG one click away for slides and documents.
  return (
    `<figure><a href="${escapeHtml(p.png)}"><img src="${escapeHtml(p.svg)}" alt="${escapeHtml(alt)}" loading="eager"></a>` +
    `<figcaption>${escapeHtml(p.title ?? p.name)} · <a href="${escapeHtml(p.svg)}">svg</a> · <a href="${escapeHtml(p.png)}">png</a></figcaption></figure>`
  );
}

function pre(value: unknown): string {
  return `<pre>${escapeHtml(JSON.stringify(value, null, 2) ?? 'null')}</pre>`;
}

function runSection(r: ReportRow): string {
  const a = r.analysis;
  const parts = [`<section class="run" id="${runAnchor(r)}">`];
  parts.push(`<h3>${escapeHtml(r.sampler ?? '?')} on ${escapeHtml(r.target_id ?? '?')} <small>${escapeHtml(r.run_id)}</small></h3>`);
  if (r.error !== null) parts.push(`<p class="error">analysis failed: ${escapeHtml(r.error)}</p>`);
  if (a !== null) {
    if (r.trust.reasons.length > 0) {
      parts.push('<ul class="warnings">');
      for (const w of r.trust.reasons) parts.push(`<li>${escapeHtml(w.full)}</li>`);
      parts.push('</ul>');
    } else {
      parts.push('<p class="no-warnings">No warnings.</p>');
    }
    const facts: [string, string][] = [
      ['λ̂ ± MCSE', `${fmt(a.llc_mean)} ± ${fmt(a.llc_mcse, 2)}`],
      ['sd of draws', fmt(a.llc_std)],
      ['R-hat', fmt(a.r_hat)],
      ['ESS bulk / tail', `${fmt(a.ess_bulk)} / ${fmt(a.ess_tail)}`],
      ['chains × kept draws', `${a.chains} × ${a.draws} (burn-in ${a.burn_in})`],
      ['n, β, γ', `${fmt(a.n)}, ${fmt(a.beta)}, ${fmt(a.gamma)}`],
      ['L0', fmt(a.L0, 6)],
      ['work, wall time', `${fmt(a.total_fge, 6)} FGE, ${fmt(a.walltime_s, 3)} s`],
      ['work-normalised variance', fmt(a.wnv)],
    ];
    if (r.sampler_traits !== null) {
      const t = r.sampler_traits;
      facts.push(['sampler kind', `${t.family}; bias: ${t.bias === 'none' ? 'none (Metropolis-adjusted)' : t.bias}`]);
    }
    if (a.acceptance_mean !== null) facts.push(['mean acceptance', fmt(a.acceptance_mean, 3)]);
    if (r.truth !== null) facts.push(['truth λ', `${fmt(r.truth.value, 6)} (${r.truth.source}); relative error ${fmt(r.rel_error, 3)}`]);
    if (r.agreement !== null) {
      const c = r.agreement;
      facts.push([
        'cross-sampler agreement',
        `vs ${c.reference}: ${fmt(c.reference_mean)} ± ${fmt(c.reference_se, 2)}, z = ${fmt(c.z, 3)} (` +
          `${c.disagrees ? 'disagrees' : 'agrees'}: |Δ| / sqrt(MCSE² + SE²) ${c.disagrees ? '>' : '≤'} ${AGREEMENT_Z})`,
      ]);
    }
    for (const [k, why] of Object.entries(a.reasons ?? {})) facts.push([`${k} is null`, why]);
    parts.push(`<table class="facts">${facts.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`);
  }
  if (r.plots.length > 0) {
    parts.push('<div class="plots">');
    for (const p of r.plots) parts.push(figure(p, `${p.name} of ${r.run_id}`));
    parts.push('</div>');
  }
  parts.push('<details><summary>configs used</summary>');
  if (r.manifest !== null) {
    const { per_chain: _perChain, ...rest } = r.manifest;
    parts.push('<h4>run manifest</h4>', pre(rest));
  }
  if (r.target_config !== null) parts.push('<h4>target config</h4>', pre(r.target_config));
  parts.push(`<p class="path">run directory: <code>${escapeHtml(r.run_dir)}</code></p>`);
  parts.push('</details></section>');
  return parts.join('\n');
}

const CSS = `
body { font-family: "DejaVu Sans", sans-serif; margin: 1.5rem auto; max-width: 1400px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ccc; }
table.summary { border-collapse: collapse; font-size: 0.9rem; }
table.summary th, table.summary td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; }
table.summary th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.warn { background: #fff3cd; } tr.failed { background: #f8d7da; }
ul.warnings li { color: #8a4b00; } p.error { color: #a00; font-weight: bold; }
table.facts th { text-align: left; padding-right: 1rem; font-weight: normal; color: #555; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; } figure img { max-width: 640px; width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.8rem; color: #555; }
pre { background: #f7f7f7; padding: 0.5rem; overflow-x: auto; font-size: 0.8rem; }
section.run { margin-bottom: 2rem; }
`;

export function renderHtml(input: HtmlInput): string {
  const { rows } = input;
  const nWarn = rows.filter((r) => r.error === null && r.trust.reasons.length > 0).length;
  const nErr = rows.filter((r) => r.error !== null).length;
  const body: string[] = [];
  body.push(`<h1>${escapeHtml(input.title)}</h1>`);
  body.push(
    `<p class="meta">${rows.length} run${rows.length === 1 ? '' : 's'}, ${nWarn} with warnings, ${nErr} without analysis` +
      `${input.failures.length ? `, ${input.failures.length} failed` : ''} · generated ${escapeHtml(input.generatedAt)} by lambda-hat ${escapeHtml(input.codeVersion)}</p>`,
  );
  body.push('<h2>Results</h2>');
  body.push(
    '<p>λ̂ is the mean of nβ(L<sub>n</sub>(w) − L0) over chains and kept draws; MCSE its Monte Carlo standard error. ' +
      'Rows in amber carry warnings (the trust column names the most serious; the run section lists all): ' +
      'the estimate should not be trusted until they are resolved. Estimates of one target are also checked ' +
      `against each other: HMC's when it has no warnings, else the others' consensus, flagged when ` +
      `|Δ| / sqrt(MCSE² + SE²) &gt; ${AGREEMENT_Z}.</p>`,
  );
  body.push(rows.length > 0 ? summaryTable(rows) : '<p>No runs.</p>');
  if (input.failures.length > 0) {
    body.push('<h2>Failed</h2><table class="summary failures"><thead><tr><th>target</th><th>sampler</th><th>status</th><th>error</th></tr></thead><tbody>');
    for (const f of input.failures) {
      body.push(`<tr class="failed"><td>${escapeHtml(f.target)}</td><td>${escapeHtml(f.sampler)}</td><td>${escapeHtml(f.status)}</td><td>${escapeHtml(f.error)}</td></tr>`);
    }
    body.push('</tbody></table>');
  }
  for (const section of input.sections ?? []) body.push(section);
  if (input.comparison.length > 0) {
    body.push('<h2>Comparison</h2><div class="plots">');
    for (const p of input.comparison) body.push(figure(p, p.title));
    body.push('</div>');
  }
  body.push('<h2>Runs</h2>');
  for (const r of rows) body.push(runSection(r));
  if (input.config !== undefined) body.push('<h2>Experiment config</h2>', pre(input.config));
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // Nothing on this page may reach the network: a strict policy makes that checkable.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self'; style-src 'unsafe-inline'">`,
    `<title>${escapeHtml(input.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head><body>',
    ...body,
    '</body></html>',
    '',
  ].join('\n');
}
