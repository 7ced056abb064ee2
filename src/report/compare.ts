/**
 * Plots comparing the runs of a report: λ̂ ± 1.96 MCSE per sampler and target against the known
 * truth, and the work-normalised variance (var/ESS × work) per sampler and target, the number
 * that says which sampler buys a given precision for the least work.
 */
import type { PlotSpec } from '../plots/run-plots.js';
import type { ReportRow } from './index.js';

export function comparisonPlotSpecs(rows: readonly ReportRow[]): PlotSpec[] {
  const ok = rows.filter((r) => r.analysis !== null && r.analysis.llc_mean !== null);
  if (ok.length === 0) return [];
  // One x position per run, labelled by target and sampler: no facets, whose separate header
  // axes lay out poorly with few runs.
  const base = (r: ReportRow): string => `${r.target_id ?? '?'} · ${r.sampler ?? '?'}`;
  const counts = new Map<string, number>();
  for (const r of ok) counts.set(base(r), (counts.get(base(r)) ?? 0) + 1);
  const label = (r: ReportRow): string => (counts.get(base(r))! > 1 ? `${base(r)} (${r.run_id})` : base(r));
  const values = ok.map((r) => {
    const a = r.analysis!;
    const se = a.llc_mcse;
    return {
      target: r.target_id ?? '?',
      run: label(r),
      sampler: r.sampler ?? '?',
      llc: a.llc_mean,
      lo: se === null ? a.llc_mean : a.llc_mean! - 1.96 * se,
      hi: se === null ? a.llc_mean : a.llc_mean! + 1.96 * se,
      truth: r.truth?.value ?? null,
      wnv: a.wnv,
    };
  });
  const specs: PlotSpec[] = [
    {
      name: 'llc_comparison',
      title: 'λ̂ by sampler',
      spec: {
        title: { text: 'λ̂ by sampler and target', subtitle: 'bars: ±1.96 MCSE; red tick: known λ where there is one' },
        width: Math.max(160, 70 * values.length),
        height: 240,
        data: { values },
        layer: [
          {
            mark: { type: 'rule', strokeWidth: 2 },
            encoding: {
              x: { field: 'run', type: 'nominal', title: 'target · sampler', axis: { labelAngle: -30, labelLimit: 320 } },
              y: { field: 'lo', type: 'quantitative', title: 'λ̂', scale: { zero: false } },
              y2: { field: 'hi' },
              color: { field: 'sampler', type: 'nominal', title: 'sampler' },
            },
          },
          {
            mark: { type: 'point', filled: true, size: 60 },
            encoding: {
              x: { field: 'run', type: 'nominal' },
              y: { field: 'llc', type: 'quantitative' },
              color: { field: 'sampler', type: 'nominal', title: 'sampler' },
            },
          },
          {
            transform: [{ filter: 'isValid(datum.truth)' }],
            mark: { type: 'tick', color: '#d62728', thickness: 2, size: 40 },
            encoding: {
              x: { field: 'run', type: 'nominal' },
              y: { field: 'truth', type: 'quantitative' },
            },
          },
        ],
      },
    },
  ];
  const withWnv = values.filter((v) => v.wnv !== null && v.wnv > 0);
  if (withWnv.length > 0) {
    specs.push({
      name: 'wnv_comparison',
      title: 'Work-normalised variance by sampler',
      spec: {
        title: { text: 'Work-normalised variance by sampler', subtitle: 'var/ESS × total work (FGE); lower is cheaper' },
        width: Math.max(160, 70 * withWnv.length),
        height: 240,
        data: { values: withWnv },
        // Points, not bars: a log axis has no zero for bars to start from.
        mark: { type: 'point', filled: true, size: 90 },
        encoding: {
          x: { field: 'run', type: 'nominal', title: 'target · sampler', axis: { labelAngle: -30, labelLimit: 320 } },
          y: { field: 'wnv', type: 'quantitative', title: 'var/ESS × work', scale: { type: 'log' } },
          color: { field: 'sampler', type: 'nominal', title: 'sampler' },
        },
      },
    });
  }
  return specs;
}

