#!/usr/bin/env node
// `npm test`: builds, makes sure the SLURM tests have a cluster when this machine can start one,
// runs the whole vitest suite, and closes with the plain "N passed, N failed[, N skipped]" line
// that CI counts. That line counts every failed test, every file that fails to load or whose
// top-level hook throws, every suite whose beforeAll/afterAll throws, every unhandled error, a
// failed build and a vitest that dies; a run that exits non-zero never says "0 failed". Each
// failure and each skipped test (with its reason) is listed above the line.
//
// Arguments go to vitest (`npm test -- test/workflow`). Environment:
//   LAMBDA_HAT_TEST_SLURM=skip   do not start a cluster (the SLURM tests then skip, saying why)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const reporter = fileURLToPath(new URL('./test-summary-reporter.mjs', import.meta.url));
const vitestArgs = process.argv.slice(2);

function say(line) {
  process.stdout.write(`${line}\n`);
}

/** Runs a command with inherited output; resolves to its exit status (128 + n after a signal). */
function run(cmd, args, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: 'inherit', env });
    child.on('error', (err) => {
      say(`run-tests: cannot start ${cmd}: ${err.message}`);
      resolve({ status: 127, signal: null });
    });
    child.on('exit', (status, signal) => resolve({ status, signal }));
  });
}

// Ctrl-C reaches the children through the terminal's process group; this process waits for
// them so that it can still stop a cluster it started and print the closing line.
let interrupted = false;
process.on('SIGINT', () => {
  interrupted = true;
});

function closing(passed, failed, skipped) {
  say(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
}

// ---- build -------------------------------------------------------------------------------
const build = await run('npm', ['run', '--silent', 'build']);
if (build.status !== 0) {
  say('\nrun-tests: the build failed (see above): no test ran');
  closing(0, 1, 0);
  process.exit(1);
}

// ---- SLURM -------------------------------------------------------------------------------
/** True when this run includes the tests that use SLURM (the whole suite, or a filter naming them). */
function runsSlurmTests(args) {
  const filters = args.filter((a) => !a.startsWith('-'));
  return filters.length === 0 || filters.some((f) => /slurm|workflow/.test(f));
}

function sinfoState() {
  const r = spawnSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return { ok: false, why: r.error.code === 'ENOENT' ? 'sinfo is not installed' : r.error.message };
  const out = (r.stdout ?? '').trim();
  if (r.status !== 0) return { ok: false, why: `sinfo failed: ${(r.stderr ?? '').trim().split('\n').pop()}` };
  return out === '' ? { ok: false, why: 'sinfo lists no nodes' } : { ok: true, why: `nodes ${out.split('\n').join(', ')}` };
}

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

let startedSlurm = false;
const startScript = join(root, 'scripts', 'slurm', 'start.sh');
if (existsSync(startScript) && runsSlurmTests(vitestArgs)) {
  const before = sinfoState();
  if (before.ok) {
    say(`run-tests: SLURM cluster reachable (${before.why}): the SLURM tests run on it`);
  } else if (process.env.LAMBDA_HAT_TEST_SLURM === 'skip') {
    say(`run-tests: SKIPPING the SLURM tests: no cluster (${before.why}) and LAMBDA_HAT_TEST_SLURM=skip`);
  } else if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    say(
      `run-tests: SKIPPING the SLURM tests: no cluster (${before.why}), and starting one needs root ` +
        '(sudo bash scripts/slurm/start.sh)',
    );
  } else if (!onPath('slurmctld') && !onPath('apt-get')) {
    say(`run-tests: SKIPPING the SLURM tests: no cluster (${before.why}), and neither slurm-wlm nor apt-get to install it`);
  } else {
    say(
      `run-tests: no SLURM cluster (${before.why}): starting a single-node one for the SLURM tests with ` +
        'scripts/slurm/start.sh (installs slurm-wlm and munge with apt-get when missing; stopped again after the tests; ' +
        'LAMBDA_HAT_TEST_SLURM=skip skips this)',
    );
    const started = await run('bash', [startScript]);
    if (started.status === 0) startedSlurm = true;
    else say('run-tests: WARNING: the SLURM cluster did not start (see above): the SLURM tests will be skipped');
  }
}

// ---- vitest ------------------------------------------------------------------------------
const work = mkdtempSync(join(tmpdir(), 'lambda-hat-tests-'));
const summaryPath = join(work, 'summary.json');
let vitestBin;
try {
  vitestBin = join(dirname(createRequire(join(root, 'package.json')).resolve('vitest/package.json')), 'vitest.mjs');
} catch {
  vitestBin = null;
}
const result = vitestBin
  ? await run(process.execPath, [vitestBin, 'run', '--reporter=default', `--reporter=${reporter}`, ...vitestArgs], {
      ...process.env,
      LAMBDA_HAT_TEST_SUMMARY: summaryPath,
    })
  : (say('run-tests: vitest is not installed (run `npm ci`)'), { status: 1, signal: null });

if (startedSlurm) {
  say('run-tests: stopping the SLURM cluster started for the tests');
  await run('bash', [join(root, 'scripts', 'slurm', 'stop.sh')]);
}

// ---- the closing line --------------------------------------------------------------------
let summary = null;
if (existsSync(summaryPath)) {
  try {
    summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
  } catch {
    summary = null;
  }
}
rmSync(work, { recursive: true, force: true });

const failures = summary?.failures ?? [];
const skipped = summary?.skipped ?? [];
const passed = summary?.passed ?? 0;
const how = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.status}`;
if (summary === null) {
  failures.push({ kind: 'vitest', where: 'vitest', error: `vitest ${how} before reporting any result (see its output above)` });
} else if (result.status !== 0 && failures.length === 0) {
  failures.push({ kind: 'vitest', where: 'vitest', error: `vitest ${how} without naming a failed test (see its output above)` });
}
if (summary?.reason === 'interrupted' || interrupted) {
  failures.push({ kind: 'vitest', where: 'vitest', error: 'the run was interrupted before every test ran' });
}

if (skipped.length > 0) {
  // One line per reason and file: a skipped test is never silent, and 40 skips stay readable.
  const groups = new Map();
  for (const s of skipped) {
    const file = s.where.split(' > ')[0];
    const key = `${file}\u0000${s.reason}`;
    const g = groups.get(key) ?? { file, reason: s.reason, tests: [] };
    g.tests.push(s.where.slice(file.length + 3));
    groups.set(key, g);
  }
  say(`\nskipped (${skipped.length}):`);
  for (const g of groups.values()) {
    const what = g.reason === 'skipped' ? g.tests.join('; ') : g.reason;
    say(`  ${g.tests.length} in ${g.file}: ${what}`);
  }
}
if (failures.length > 0) {
  say(`\nfailed (${failures.length}):`);
  for (const f of failures) say(`  ${f.kind}: ${f.where}: ${f.error}`);
}
say('');
closing(passed, failures.length, skipped.length);
process.exit(failures.length > 0 || result.status !== 0 ? 1 : 0);
