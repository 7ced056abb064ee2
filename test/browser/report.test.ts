/**
 * The HTML report in a real browser (Debian's chromium when installed, else the Chromium the
 * @sparticuz/chromium dev dependency ships, via playwright-core): one table row per
 * run with the numbers of analysis.json, every image loads, no console errors, no request
 * leaves the report directory, and a screenshot renders.
 */
import type { TargetMeta } from '../../src/contracts/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { writeSyntheticRun } from '../analysis/synthetic.js';
import { writeJsonAtomic } from '../../src/store/index.js';
import { writeReport, type ReportResult } from '../../src/report/index.js';
import { quadraticPosteriorLambda } from '../../src/posterior/truth.js';
import { decodePng, greyVariance } from '../plots/png.js';
import { ensureChromium, HEADLESS_FLAGS } from '../../src/report/chromium.js';
import { disagreementReason } from '../../src/workflow/agreement.js';


let home: string;
let outDir: string;
let report: ReportResult;
let runDirs: string[];
let context: BrowserContext;
let profileDir: string;
let page: Page;
const consoleErrors: string[] = [];
const foreignRequests: string[] = [];
const failedRequests: string[] = [];

beforeAll(async () => {
  const browser = await ensureChromium();
  console.log(`report test: ${browser.kind === 'debian' ? "Debian's" : 'the bundled'} Chromium at ${browser.path}`);
  home = mkdtempSync(join(tmpdir(), 'lh-report-'));
  // A quadratic target with a known λ̂: (d/2) nβ/(nβ+γ).
  const n = 1000;
  const beta = 1 / Math.log(n);
  const truth = quadraticPosteriorLambda({ d: 10, n, beta, gamma: 1 });
  const meta: TargetMeta = {
    target_id: 'tgt_quad',
    config: { model: { family: 'quadratic', dim: 10 }, data: { n }, teacher: null, training: null, seed: 0, dtype: 'float64' },
    family: 'quadratic',
    dims: { n, in_dim: 0, out_dim: 0, p: 10 },
    L0: 0,
    dtype: 'float64',
    created_at: '2025-01-01T00:00:00.000Z',
    code_version: 'synthetic',
    host: 'test',
    engine_impl: null,
    training: { init: 'exact', steps_run: 0, early_stopped: false, final_loss: 0, final_grad_norm: 0, wall_s: 0 },
    files: {},
    warnings: [],
  };
  writeJsonAtomic(join(home, 'targets', 'tgt_quad', 'meta.json'), meta);
  runDirs = [
    writeSyntheticRun(home, { runId: 'run_quad_sgld', targetId: 'tgt_quad', sampler: 'sgld', mean: truth, n, beta, L0: 0, seed: 31 }),
    writeSyntheticRun(home, {
      runId: 'run_quad_hmc', targetId: 'tgt_quad', sampler: 'hmc', mean: truth, offset: 1, rho: 0.9, n, beta, L0: 0, seed: 32,
      hmc: { acceptance: 0.4, divergences: 3 },
    }),
    writeSyntheticRun(home, { runId: 'run_other', targetId: 'tgt_other', sampler: 'mclmc', mean: 3, seed: 33 }),
  ];
  // A run whose traces are missing: its row must say so instead of breaking the report.
  const broken = join(home, 'runs', 'run_broken');
  writeJsonAtomic(join(broken, 'manifest.json'), { run_id: 'run_broken', target_id: 'tgt_other', sampler: 'vi' });
  runDirs.push(broken);
  outDir = join(home, 'report');
  report = await writeReport({ runDirs, outDir, title: 'Browser test report', config: { experiment: 'browser-test' } });

  // A fresh profile per run (the --user-data-dir of the flags), removed afterwards.
  profileDir = mkdtempSync(join(tmpdir(), 'lh-chromium-profile-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: browser.path,
    headless: true,
    args: [...HEADLESS_FLAGS],
  });
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('requestfailed', (r) => failedRequests.push(`${r.url()}: ${r.failure()?.errorText}`));
  page.on('request', (r) => {
    if (!r.url().startsWith(pathToFileURL(outDir).href + '/')) foreignRequests.push(r.url());
  });
  await page.goto(pathToFileURL(report.path).href, { waitUntil: 'load' });
}, 120_000);

afterAll(async () => {
  await context?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  if (home) rmSync(home, { recursive: true, force: true });
});

interface RowCells {
  runId: string;
  cls: string;
  cells: Record<string, { text: string; value: string }>;
}

async function tableRows(): Promise<RowCells[]> {
  return page.$$eval('table.summary#summary tbody tr', (trs) =>
    trs.map((tr) => ({
      runId: tr.getAttribute('data-run-id') ?? '',
      cls: tr.className,
      cells: Object.fromEntries(
        [...tr.querySelectorAll('td[data-key]')].map((td) => [
          td.getAttribute('data-key')!,
          { text: (td.textContent ?? '').trim(), value: td.getAttribute('data-value') ?? '' },
        ]),
      ),
    })),
  );
}

describe('HTML report in headless Chromium', () => {
  it('has one table row per run, with the numbers of analysis.json', async () => {
    const rows = await tableRows();
    expect(rows.map((r) => r.runId).sort()).toEqual(['run_broken', 'run_other', 'run_quad_hmc', 'run_quad_sgld']);
    for (const row of rows) {
      if (row.runId === 'run_broken') {
        expect(row.cls).toContain('failed');
        expect(row.cells.llc_mean!.value).toBe('');
        continue;
      }
      const a = JSON.parse(readFileSync(join(home, 'runs', row.runId, 'analysis.json'), 'utf8')) as Record<string, number | null>;
      for (const key of ['llc_mean', 'llc_mcse', 'r_hat', 'ess_bulk', 'ess_tail', 'total_fge', 'walltime_s']) {
        const cell = row.cells[key]!;
        expect(Number(cell.value), `${row.runId} ${key}`).toBe(a[key]);
        // The displayed text is the same number rounded (MCSE to 2 significant digits, else 3+).
        const shown = Number(cell.text);
        const tol = key === 'llc_mcse' ? 0.05 : 0.005;
        expect(Math.abs(shown - a[key]!), `${row.runId} ${key} shown ${cell.text}`).toBeLessThanOrEqual(Math.abs(a[key]!) * tol + 1e-12);
      }
    }
  });

  it('shows the known truth and the relative error for the quadratic target only', async () => {
    const rows = await tableRows();
    const quad = rows.find((r) => r.runId === 'run_quad_sgld')!;
    const n = 1000;
    const truth = quadraticPosteriorLambda({ d: 10, n, beta: 1 / Math.log(n), gamma: 1 });
    expect(Number(quad.cells.truth!.value)).toBeCloseTo(truth, 12);
    const mean = Number(quad.cells.llc_mean!.value);
    expect(Number(quad.cells.rel_error!.value)).toBeCloseTo((mean - truth) / truth, 12);
    const other = rows.find((r) => r.runId === 'run_other')!;
    expect(other.cells.truth!.value).toBe('');
    expect(other.cells.truth!.text).toBe('–');
  });

  it('highlights rows with warnings and lists the warnings in the run section', async () => {
    const rows = await tableRows();
    const bad = rows.find((r) => r.runId === 'run_quad_hmc')!;
    const good = rows.find((r) => r.runId === 'run_quad_sgld')!;
    expect(bad.cls).toContain('warn');
    expect(good.cls).toContain('ok');
    const [badBg, goodBg] = await page.$$eval(['run_quad_hmc', 'run_quad_sgld'].map((id) => `tr[data-run-id="${id}"]`).join(','), (trs) =>
      trs.map((tr) => getComputedStyle(tr).backgroundColor),
    );
    expect(badBg).not.toBe(goodBg);
    const warnings = await page.$$eval('#run-run_quad_hmc ul.warnings li', (lis) => lis.map((l) => l.textContent ?? ''));
    const a = JSON.parse(readFileSync(join(home, 'runs', 'run_quad_hmc', 'analysis.json'), 'utf8')) as { warnings: string[] };
    // Every analysis warning, and a disagreement with the warning-free sgld run of the same target if there is one.
    const reportRow = report.rows.find((r) => r.run_id === 'run_quad_hmc')!;
    const agreement = reportRow.agreement!;
    expect(agreement.reference).toBe('consensus of sgld');
    const expected = [...a.warnings, ...(agreement.disagrees ? [disagreementReason(agreement)] : [])];
    expect([...warnings].sort()).toEqual(expected.sort());
    expect(warnings.join('\n')).toMatch(/divergent/);
    const facts = await page.$$eval('#run-run_quad_hmc table.facts tr', (trs) =>
      trs.map((tr) => [tr.querySelector('th')?.textContent ?? '', tr.querySelector('td')?.textContent ?? '']),
    );
    const fact = facts.find(([k]) => k === 'cross-sampler agreement');
    expect(fact?.[1]).toMatch(new RegExp(`^vs consensus of sgld: .*z = ${Number(agreement.z.toPrecision(3))} \\(${agreement.disagrees ? 'disagrees' : 'agrees'}`));
  });

  it('has a trust column: ok for a clean run, warn (N) with the most serious reason otherwise, never ok with warnings', async () => {
    const rows = await tableRows();
    const byId = Object.fromEntries(rows.map((r) => [r.runId, r]));
    expect(byId.run_quad_sgld!.cells.trust!.text).toBe('ok');
    const hmc = byId.run_quad_hmc!.cells.trust!.text;
    const n = Number(byId.run_quad_hmc!.cells.warnings!.value);
    expect(n).toBeGreaterThan(1);
    expect(hmc).toMatch(new RegExp(`^warn \\(${n}\\): `));
    expect(byId.run_broken!.cells.trust!.text).toBe('no estimate');
    for (const r of rows) {
      if (r.cls.includes('warn')) expect(r.cells.trust!.text).not.toBe('ok');
    }
  });

  it('loads every image (naturalWidth > 0), all from inside the report directory', async () => {
    const imgs = await page.$$eval('img', (els) =>
      els.map((e) => ({ src: e.getAttribute('src') ?? '', complete: (e as HTMLImageElement).complete, w: (e as HTMLImageElement).naturalWidth })),
    );
    const expected = report.rows.reduce((s, r) => s + r.plots.length, 0) + 2; // + the two comparison plots
    expect(imgs.length).toBe(expected);
    expect(imgs.length).toBeGreaterThan(10);
    for (const img of imgs) {
      expect(img.complete, img.src).toBe(true);
      expect(img.w, img.src).toBeGreaterThan(0);
      // Relative links only, so the report directory can be moved.
      expect(img.src).toMatch(/^plots\//);
    }
    const hrefs = await page.$$eval('a[href]', (as) => as.map((a) => a.getAttribute('href') ?? ''));
    for (const h of hrefs) expect(h, h).toMatch(/^(#|plots\/)/);
    expect(foreignRequests).toEqual([]);
    expect(failedRequests).toEqual([]);
  });

  it('keeps one file per plot and run: no run overwrites another run\'s plot', () => {
    const plotsDir = join(outDir, 'plots');
    const dirs = readdirSync(plotsDir).sort();
    expect(dirs).toEqual(['_report', 'run_other', 'run_quad_hmc', 'run_quad_sgld']);
    const a = readFileSync(join(plotsDir, 'run_quad_sgld', 'trace_llc.svg'), 'utf8');
    const b = readFileSync(join(plotsDir, 'run_quad_hmc', 'trace_llc.svg'), 'utf8');
    expect(a).toContain('run_quad_sgld');
    expect(b).toContain('run_quad_hmc');
    expect(existsSync(join(plotsDir, 'run_quad_hmc', 'energy.png'))).toBe(true);
    expect(existsSync(join(plotsDir, 'run_quad_sgld', 'energy.png'))).toBe(false);
  });

  it('renders a screenshot without console errors', async () => {
    // The viewport, not the full page: a full-page capture of all plots costs seconds.
    const shot = await page.screenshot();
    const img = decodePng(new Uint8Array(shot));
    expect(img.width).toBeGreaterThan(600);
    expect(img.height).toBeGreaterThan(400);
    expect(greyVariance(img)).toBeGreaterThan(0);
    expect(consoleErrors).toEqual([]);
  });

  it('a second report into the same directory drops plots of runs it no longer shows', async () => {
    const second = join(home, 'report2');
    mkdirSync(second, { recursive: true });
    await writeReport({ runDirs: runDirs.slice(0, 3), outDir: second, title: 'all' });
    const again = await writeReport({ runDirs: [runDirs[0]!], outDir: second, title: 'one run', diagnose: false });
    expect(again.rows.length).toBe(1);
    expect(readdirSync(join(second, 'plots')).sort()).toEqual(['_report', 'run_quad_sgld']);
  });
});
