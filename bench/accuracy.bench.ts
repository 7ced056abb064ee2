// Accuracy benchmark: the validate suite with the default SGLD (calibrated step), written to
// bench/results/accuracy.json. Targets: every DLN within 10% of Aoyagi, the quadratic
// identity within 3 MCSE. `npm run bench accuracy`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable, runValidation } from '../src/validate/suite.js';

export default async function accuracy(): Promise<void> {
  const t0 = performance.now();
  const cases = await runValidation({
    sampler: 'sgld',
    onCase: (r) => console.error(`${r.case}: ${r.lambda_hat.toFixed(3)} vs ${r.truth.toFixed(3)}`),
  });
  console.log(formatTable(cases));
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'accuracy.json');
  mkdirSync(dirname(out), { recursive: true });
  const safe = (_k: string, v: unknown): unknown => (typeof v === 'number' && !Number.isFinite(v) ? null : v);
  writeFileSync(
    out,
    `${JSON.stringify({ command: 'npm run bench accuracy', sampler: 'sgld (defaults: step_size auto, median step shared by the chains, steps auto = 0.75 + 2 localiser relaxation times)', all_pass: cases.every((c) => c.pass), wall_s: (performance.now() - t0) / 1000, cases }, safe, 2)}\n`,
  );
  console.log(`wrote ${out}`);
}
