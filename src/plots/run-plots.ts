/**
 * The plots of one run, as explicit Vega-Lite specs built from the run's traces: trace (llc and
 * L_n per chain), rank plot, running λ̂ with a ±1.96 MCSE band against work and wall time,
 * work-normalised variance, and the energy plot for samplers that record an energy (HMC).
 *
 * Each builder returns a complete spec (data inlined, titles, axis labels, sizes, colours): no
 * defaults shared between plots beyond the font that render.ts sets.
 */
import { essBulk, mcseMean } from '../diagnostics/index.js';
import { type KeptDraws } from '../analysis/index.js';
import type { ChainTrace, LoadedRun } from '../analysis/run.js';
import type { VlSpec } from './render.js';

export interface PlotSpec {
  name: string;
  title: string;
  spec: VlSpec;
}

/** Most points drawn per chain and series: beyond this a line plot only grows the SVG. */
const MAX_POINTS = 1500;
/** Points at which the MCSE band and the WNV curve are evaluated (each costs an FFT pass). */
const GRID_POINTS = 30;
const WIDTH = 520;
const HEIGHT = 240;

/** Indices 0..n-1 thinned to at most max, always keeping the last one. */
function thin(n: number, max = MAX_POINTS): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const stride = Math.ceil(n / max);
  const out: number[] = [];
  for (let i = 0; i < n; i += stride) out.push(i);
  if (out[out.length - 1] !== n - 1) out.push(n - 1);
  return out;
}

/** Prefix lengths 1..n at which to evaluate running statistics (>= minLen). */
function grid(n: number, minLen: number, points = GRID_POINTS): number[] {
  if (n < minLen) return [];
  const out = new Set<number>();
  for (let k = 0; k < points; k++) {
    out.add(Math.round(minLen + ((n - minLen) * k) / Math.max(1, points - 1)));
  }
  return [...out].sort((a, b) => a - b);
}

function chainLabel(c: ChainTrace): string {
  return `chain ${c.chain}`;
}

function finite(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

function hasFinite(xs: Float64Array): boolean {
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i]!)) return true;
  return false;
}

/** Vega's tableau10, repeated for many chains, plus black for a pooled series. */
const TABLEAU10 = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];
function seriesColors(chains: number, pooled: boolean): string[] {
  const out = Array.from({ length: chains }, (_, i) => TABLEAU10[i % TABLEAU10.length]!);
  return pooled ? [...out, '#000000'] : out;
}

const chainColor = { field: 'chain', type: 'nominal', title: 'chain', sort: null } as const;

function traceSpec(
  run: LoadedRun,
  kept: KeptDraws,
  field: 'llc' | 'Ln',
  title: string,
  yTitle: string,
): VlSpec {
  const values: Record<string, unknown>[] = [];
  for (const c of run.chains) {
    for (const i of thin(c.draw.length)) {
      values.push({ chain: chainLabel(c), draw: c.draw[i], value: finite(c[field][i]!) });
    }
  }
  const layers: VlSpec[] = [
    {
      mark: { type: 'line', strokeWidth: 1, opacity: 0.85, clip: true },
      encoding: {
        x: { field: 'draw', type: 'quantitative', title: 'draw' },
        y: { field: 'value', type: 'quantitative', title: yTitle, scale: { zero: false } },
        color: chainColor,
      },
    },
  ];
  if (kept.burnIn > 0 && kept.chains.length > 0 && kept.start < kept.chains[0]!.draw.length) {
    // Burn-in boundary as a rule at the first kept draw.
    layers.push({
      data: { values: [{ draw: kept.chains[0]!.draw[kept.start], label: 'end of burn-in' }] },
      mark: { type: 'rule', strokeDash: [4, 3], color: '#555' },
      encoding: { x: { field: 'draw', type: 'quantitative' } },
    });
  }
  return {
    title,
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    layer: layers,
  };
}

/**
 * Rank plot (Vehtari et al. 2021): all kept draws ranked together, then a histogram of the
 * ranks of each chain. Well-mixed chains give flat histograms; a chain stuck high or low
 * piles its ranks at one end.
 */
function rankSpec(kept: KeptDraws): VlSpec | null {
  const m = kept.llc.length;
  const n = m === 0 ? 0 : kept.llc[0]!.length;
  if (m === 0 || n < 2) return null;
  const total = m * n;
  const order = Array.from({ length: total }, (_, i) => i);
  const val = (i: number): number => kept.llc[Math.floor(i / n)]![i % n]!;
  order.sort((a, b) => val(a) - val(b));
  const bins = Math.max(2, Math.min(20, Math.floor(n / 5)));
  const counts = Array.from({ length: m }, () => new Array<number>(bins).fill(0));
  for (let r = 0; r < total; r++) {
    const i = order[r]!;
    const bin = Math.min(bins - 1, Math.floor((r * bins) / total));
    counts[Math.floor(i / n)]![bin]!++;
  }
  const values: Record<string, unknown>[] = [];
  kept.chains.forEach((c, j) => {
    for (let b = 0; b < bins; b++) {
      values.push({
        chain: chainLabel(c),
        bin_start: (b * total) / bins,
        bin_end: ((b + 1) * total) / bins,
        count: counts[j]![b],
      });
    }
  });
  return {
    title: { text: 'Rank plot of λ̂ draws', subtitle: 'flat bars in every chain = well mixed' },
    data: { values },
    facet: { row: { field: 'chain', type: 'nominal', title: null, sort: null } },
    spec: {
      width: WIDTH,
      height: Math.max(40, Math.min(90, 300 / m)),
      layer: [
        {
          mark: { type: 'rect', stroke: 'white', strokeWidth: 0.5 },
          encoding: {
            x: { field: 'bin_start', type: 'quantitative', title: 'rank (all chains pooled)' },
            x2: { field: 'bin_end' },
            y: { field: 'count', type: 'quantitative', title: 'count' },
            color: { ...chainColor, legend: null },
          },
        },
        {
          // Expected count per bin under perfect mixing.
          data: { values: [{ expected: n / bins }] },
          mark: { type: 'rule', strokeDash: [4, 3], color: '#333' },
          encoding: { y: { field: 'expected', type: 'quantitative' } },
        },
      ],
    },
    resolve: { scale: { y: 'shared' } },
  };
}

interface RunningPoint {
  x: number;
  mean: number;
  lo: number | null;
  hi: number | null;
}

/** Running pooled λ̂ and its ±1.96 MCSE band at grid points, with the x of each point. */
function runningPooled(kept: KeptDraws, xOf: (c: ChainTrace, i: number) => number): RunningPoint[] {
  const n = kept.llc.length === 0 ? 0 : kept.llc[0]!.length;
  const out: RunningPoint[] = [];
  for (const t of grid(n, 1)) {
    const prefix = kept.llc.map((c) => c.subarray(0, t));
    let s = 0;
    for (const c of prefix) for (let i = 0; i < c.length; i++) s += c[i]!;
    const mean = s / (prefix.length * t);
    const se = t >= 4 ? mcseMean(prefix).value : null;
    let x = 0;
    for (const c of kept.chains) x += xOf(c, kept.start + t - 1);
    x /= kept.chains.length;
    if (!Number.isFinite(x)) continue;
    out.push({ x, mean, lo: se === null ? null : mean - 1.96 * se, hi: se === null ? null : mean + 1.96 * se });
  }
  return out;
}

function runningSpec(
  kept: KeptDraws,
  axis: 'cumulative_fge' | 'time_s',
  title: string,
  xTitle: string,
): VlSpec | null {
  if (kept.chains.length === 0 || kept.llc[0]!.length === 0) return null;
  if (!kept.chains.every((c) => hasFinite(c[axis]))) return null;
  const values: Record<string, unknown>[] = [];
  kept.chains.forEach((c, j) => {
    const llc = kept.llc[j]!;
    let s = 0;
    const running = new Float64Array(llc.length);
    for (let i = 0; i < llc.length; i++) {
      s += llc[i]!;
      running[i] = s / (i + 1);
    }
    for (const i of thin(llc.length)) {
      const x = finite(c[axis][kept.start + i]!);
      if (x !== null) values.push({ series: chainLabel(c), x, mean: running[i] });
    }
  });
  const pooled = runningPooled(kept, (c, i) => c[axis][i]!);
  for (const p of pooled) values.push({ series: 'all chains', x: p.x, mean: p.mean, lo: p.lo, hi: p.hi });
  const series = [...kept.chains.map(chainLabel), 'all chains'];
  return {
    title: { text: title, subtitle: 'running mean of kept draws; band: ±1.96 MCSE of the pooled mean' },
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    layer: [
      {
        transform: [{ filter: "datum.series === 'all chains' && isValid(datum.lo)" }],
        mark: { type: 'area', opacity: 0.2, color: '#444' },
        encoding: {
          x: { field: 'x', type: 'quantitative', title: xTitle },
          y: { field: 'lo', type: 'quantitative', title: 'running λ̂', scale: { zero: false } },
          y2: { field: 'hi' },
        },
      },
      // Chains thin in the categorical palette, the pooled estimate thick and black on top; one
      // shared colour scale so the legend lists every series.
      ...[
        { filter: "datum.series !== 'all chains'", width: 1 },
        { filter: "datum.series === 'all chains'", width: 2.5 },
      ].map(({ filter, width }) => ({
        transform: [{ filter }],
        mark: { type: 'line', strokeWidth: width },
        encoding: {
          x: { field: 'x', type: 'quantitative', title: xTitle },
          y: { field: 'mean', type: 'quantitative', title: 'running λ̂', scale: { zero: false } },
          color: {
            field: 'series',
            type: 'nominal',
            title: 'series',
            sort: series,
            scale: { domain: series, range: seriesColors(kept.chains.length, true) },
          },
        },
      })),
    ],
  };
}

/**
 * Work-normalised variance, var/ESS x work, evaluated on growing prefixes of the kept draws:
 * per chain (its own ESS and work) and pooled (all chains' ESS and their summed work). It
 * levels off once the chains are in their stationary regime; lower means cheaper precision.
 */
function wnvSpec(kept: KeptDraws): VlSpec | null {
  const m = kept.chains.length;
  const n = m === 0 ? 0 : kept.llc[0]!.length;
  if (n < 8 || !kept.chains.every((c) => hasFinite(c.cumulative_fge))) return null;
  const values: Record<string, unknown>[] = [];
  const variance = (xs: Float64Array[]): number => {
    let s = 0;
    let k = 0;
    for (const c of xs) for (let i = 0; i < c.length; i++) (s += c[i]!), k++;
    const mu = s / k;
    let v = 0;
    for (const c of xs) for (let i = 0; i < c.length; i++) v += (c[i]! - mu) ** 2;
    return v / (k - 1);
  };
  const push = (series: string, x: number, chains: Float64Array[]): void => {
    const ess = essBulk(chains).value;
    if (ess === null || ess <= 0) return;
    const wnv = (variance(chains) / ess) * x;
    if (Number.isFinite(wnv) && wnv > 0 && Number.isFinite(x)) values.push({ series, x, wnv });
  };
  for (const t of grid(n, 8, 15)) {
    let totalWork = 0;
    kept.chains.forEach((c, j) => {
      const work = c.cumulative_fge[kept.start + t - 1]!;
      totalWork += work;
      push(chainLabel(c), work, [kept.llc[j]!.subarray(0, t)]);
    });
    if (m > 1) push('all chains', totalWork, kept.llc.map((c) => c.subarray(0, t)));
  }
  if (values.length === 0) return null;
  const series = [...kept.chains.map(chainLabel), ...(m > 1 ? ['all chains'] : [])];
  return {
    title: { text: 'Work-normalised variance of λ̂', subtitle: 'var/ESS × work; lower is cheaper' },
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    mark: { type: 'line', point: true, strokeWidth: 1.2 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: 'work (FGE): per chain, summed for all chains' },
      y: { field: 'wnv', type: 'quantitative', title: 'var/ESS × work', scale: { type: 'log' } },
      color: {
        field: 'series',
        type: 'nominal',
        title: 'series',
        sort: series,
        scale: { domain: series, range: seriesColors(m, m > 1) },
      },
    },
  };
}

/**
 * HMC energy plot (Betancourt 2016, as ArviZ's plot_energy): per chain, the distribution of the
 * centred energy and of the energy transitions ΔE. When ΔE is much narrower than the marginal
 * energy, momentum resampling cannot move the chain through energy levels (low E-BFMI).
 */
function energySpec(kept: KeptDraws): VlSpec | null {
  const chains = kept.chains.filter((c) => c.energy !== null && hasFinite(c.energy));
  if (chains.length === 0) return null;
  const values: Record<string, unknown>[] = [];
  for (const c of chains) {
    const e = c.energy!.subarray(kept.start, kept.length);
    let s = 0;
    let k = 0;
    for (let i = 0; i < e.length; i++) if (Number.isFinite(e[i]!)) (s += e[i]!), k++;
    const mu = s / Math.max(1, k);
    for (let i = 0; i < e.length; i++) {
      if (Number.isFinite(e[i]!)) values.push({ chain: chainLabel(c), kind: 'marginal E − mean', value: e[i]! - mu });
      if (i > 0 && Number.isFinite(e[i]! - e[i - 1]!)) {
        values.push({ chain: chainLabel(c), kind: 'transition ΔE', value: e[i]! - e[i - 1]! });
      }
    }
  }
  return {
    title: { text: 'HMC energy', subtitle: 'energy transition vs marginal energy, per chain' },
    data: { values },
    facet: { row: { field: 'chain', type: 'nominal', title: null, sort: null } },
    spec: {
      width: WIDTH,
      height: Math.max(50, Math.min(100, 320 / chains.length)),
      mark: { type: 'bar', opacity: 0.55, binSpacing: 0 },
      encoding: {
        x: { field: 'value', type: 'quantitative', bin: { maxbins: 40 }, title: 'energy (centred)' },
        y: { aggregate: 'count', type: 'quantitative', title: 'count', stack: null },
        color: { field: 'kind', type: 'nominal', title: 'distribution', legend: { labelLimit: 0 } },
      },
    },
  };
}

/** Captions of the plot files a run can have (run plots and target plots), for galleries. */
export const PLOT_TITLES: Readonly<Record<string, string>> = {
  trace_llc: 'Trace of λ̂ draws (llc) per chain',
  trace_Ln: 'Trace of L_n per chain',
  rank: 'Rank plot',
  running_llc_fge: 'Running λ̂ vs work (FGE), ±1.96 MCSE',
  running_llc_time: 'Running λ̂ vs wall time, ±1.96 MCSE',
  wnv: 'Work-normalised variance',
  energy: 'HMC energy',
  target_loss: 'Target training loss',
  target_predictions: 'Student vs teacher predictions',
};

/** All plots of a run that its traces support. */
export function runPlotSpecs(run: LoadedRun, kept: KeptDraws): PlotSpec[] {
  const label = `${run.manifest.sampler ?? 'run'} · ${run.manifest.run_id}`;
  const out: PlotSpec[] = [];
  out.push({
    name: 'trace_llc',
    title: 'Trace of λ̂ draws',
    spec: traceSpec(run, kept, 'llc', `Trace of llc per chain (${label})`, 'llc = nβ (L_n − L0)'),
  });
  if (run.chains.some((c) => hasFinite(c.Ln))) {
    out.push({
      name: 'trace_Ln',
      title: 'Trace of L_n',
      spec: traceSpec(run, kept, 'Ln', `Trace of L_n per chain (${label})`, 'L_n (full-data loss)'),
    });
  }
  const rank = rankSpec(kept);
  if (rank) out.push({ name: 'rank', title: 'Rank plot', spec: rank });
  const byWork = runningSpec(kept, 'cumulative_fge', `Running λ̂ against work (${label})`, 'work per chain (FGE)');
  if (byWork) out.push({ name: 'running_llc_fge', title: 'Running λ̂ vs work', spec: byWork });
  const byTime = runningSpec(kept, 'time_s', `Running λ̂ against wall time (${label})`, 'wall time per chain (s)');
  if (byTime) out.push({ name: 'running_llc_time', title: 'Running λ̂ vs wall time', spec: byTime });
  const wnv = wnvSpec(kept);
  if (wnv) out.push({ name: 'wnv', title: 'Work-normalised variance', spec: wnv });
  const energy = energySpec(kept);
  if (energy) out.push({ name: 'energy', title: 'HMC energy', spec: energy });
  return out;
}
