import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticRun } from '../analysis/synthetic.js';
import { diagnoseTask } from '../../src/tasks/diagnose.js';
import { specToSvg, svgToPng } from '../../src/plots/render.js';
import { decodePng, greyVariance } from './png.js';
import { parseSvg } from './svg.js';

/** Each plot: words its title must contain, its axis titles, and whether it has one series per chain. */
const EXPECTED: Record<string, { title: RegExp; axes: string[]; perChain: boolean }> = {
  trace_llc: { title: /Trace of llc per chain/, axes: ['draw', 'llc = nβ (L_n − L0)'], perChain: true },
  trace_Ln: { title: /Trace of L_n per chain/, axes: ['draw', 'L_n (full-data loss)'], perChain: true },
  rank: { title: /Rank plot/, axes: ['rank (all chains pooled)', 'count'], perChain: true },
  running_llc_fge: { title: /Running λ̂ against work/, axes: ['work per chain (FGE)', 'running λ̂'], perChain: true },
  running_llc_time: { title: /Running λ̂ against wall time/, axes: ['wall time per chain (s)', 'running λ̂'], perChain: true },
  wnv: { title: /Work-normalised variance/, axes: ['work (FGE): per chain, summed for all chains', 'var/ESS × work'], perChain: true },
  energy: { title: /HMC energy/, axes: ['energy (centred)', 'count'], perChain: true },
};

let home: string;
let dir: string;
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'lh-plots-'));
  dir = writeSyntheticRun(home, {
    runId: 'run_plots', sampler: 'hmc', chains: 3, draws: 300, burnIn: 20, seed: 21,
    hmc: { acceptance: 0.85, divergences: 0 },
  });
  await diagnoseTask({ kind: 'diagnose', run_dir: dir });
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('run plots', () => {
  it('writes an SVG and a PNG for every plot and nothing else', () => {
    const files = readdirSync(join(dir, 'plots')).sort();
    const names = Object.keys(EXPECTED);
    expect(files).toEqual(names.flatMap((n) => [`${n}.png`, `${n}.svg`]).sort());
    const analysis = JSON.parse(readFileSync(join(dir, 'analysis.json'), 'utf8')) as { plots: string[] };
    expect(analysis.plots.sort()).toEqual(files.map((f) => `plots/${f}`).sort());
  });

  for (const [name, want] of Object.entries(EXPECTED)) {
    it(`${name}.svg is well-formed with its title, axis labels and one series per chain`, () => {
      const svg = parseSvg(readFileSync(join(dir, 'plots', `${name}.svg`), 'utf8'));
      expect(svg.root).toBe('svg');
      expect(svg.rootAttrs).toMatch(/width="\d+(\.\d+)?"/);
      expect(svg.rootAttrs).toMatch(/font-family|xmlns/);
      const texts = svg.texts;
      expect(texts.some((t) => want.title.test(t)), `title ${want.title} in ${texts.slice(0, 5).join(' | ')}`).toBe(true);
      for (const axis of want.axes) expect(texts, `axis title ${axis}`).toContain(axis);
      if (want.perChain) for (const c of [0, 1, 2]) expect(texts, `series chain ${c}`).toContain(`chain ${c}`);
      expect(texts).not.toContain('chain 3');
    });

    it(`${name}.png decodes, matches the SVG's aspect and is not blank`, () => {
      const svgText = readFileSync(join(dir, 'plots', `${name}.svg`), 'utf8');
      const w = Number(/width="([\d.]+)"/.exec(svgText)![1]);
      const h = Number(/height="([\d.]+)"/.exec(svgText)![1]);
      const img = decodePng(readFileSync(join(dir, 'plots', `${name}.png`)));
      // Rendered at 2x.
      expect(Math.abs(img.width - 2 * w)).toBeLessThanOrEqual(2);
      expect(Math.abs(img.height - 2 * h)).toBeLessThanOrEqual(2);
      expect(greyVariance(img)).toBeGreaterThan(0);
    });
  }

  it('draws text into the PNG (fonts found): a title-only plot differs from an empty one', async () => {
    const base = { width: 200, height: 60, data: { values: [{ x: 1 }] }, mark: { type: 'point', opacity: 0 }, encoding: { x: { field: 'x', type: 'quantitative', axis: null } } };
    const withText = decodePng(svgToPng(await specToSvg({ ...base, title: 'MMMMMMMM WWWWWWW' })));
    const without = decodePng(svgToPng(await specToSvg({ ...base, title: '' })));
    // Without system fonts resvg silently drops text: the two images would then be identical
    // apart from the title's reserved space, which is white.
    expect(greyVariance(withText)).toBeGreaterThan(greyVariance(without) + 1);
  });

  it('uses no shared plotting state: concurrent renders give the same SVG as sequential ones', async () => {
    const spec = (title: string) => ({
      title, width: 100, height: 50, data: { values: [{ x: 1, y: 2 }, { x: 2, y: 3 }] },
      mark: 'line', encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } },
    });
    const sequential = [await specToSvg(spec('a')), await specToSvg(spec('b'))];
    const concurrent = await Promise.all([specToSvg(spec('a')), specToSvg(spec('b'))]);
    expect(concurrent).toEqual(sequential);
    expect(sequential[0]).not.toEqual(sequential[1]);
  });
});
