#!/usr/bin/env node
// Compiles assembly/kernels.ts into build/kernels-simd.wasm (plain SIMD, what Node 20 runs by
// default) and build/kernels-relaxed.wasm (relaxed-SIMD fused multiply-add, chosen at run time
// only where the runtime validates it). Runs from `npm run build:wasm` and `prepare`.
import asc from 'assemblyscript/asc';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
mkdirSync(`${root}build`, { recursive: true });

const common = [
  'assembly/kernels.ts',
  '--baseDir', root,
  '--runtime', 'stub',
  '-O3',
  '--noAssert',
  // The host provides no imports: kernels never abort (no asserts, no allocation).
  '--use', 'abort=',
  '--enable', 'simd',
];
const variants = [
  { file: 'build/kernels-simd.wasm', extra: [] },
  { file: 'build/kernels-relaxed.wasm', extra: ['--enable', 'relaxed-simd'] },
];

for (const v of variants) {
  const { error, stderr } = await asc.main([...common, ...v.extra, '--outFile', v.file, '--textFile', v.file.replace(/\.wasm$/, '.wat')], {
    // asc resolves relative paths against the working directory.
  });
  if (error) {
    console.error(stderr.toString());
    console.error(`build-wasm: ${v.file} failed: ${error.message}`);
    process.exit(1);
  }
  const warnings = stderr.toString().trim();
  if (warnings) console.error(warnings);
  console.log(`build-wasm: wrote ${v.file}`);
}
