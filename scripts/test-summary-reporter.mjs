// A vitest reporter that writes what the closing "N passed, N failed" line counts to the JSON
// file named by LAMBDA_HAT_TEST_SUMMARY: every failed test, every error of a file (an import
// that fails, a top-level hook that throws), of a suite (its beforeAll/afterAll), every
// unhandled error, and every skipped test with the reason it was skipped. vitest's own JSON
// report misses the middle two: a suite whose beforeAll throws shows up there as skipped tests.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';

/** First line of an error, with its name when the message does not already say it. */
function describeError(e) {
  const msg = String(e?.message ?? e ?? 'unknown error').split('\n')[0];
  const name = e?.name && e.name !== 'Error' && !msg.startsWith(e.name) ? `${e.name}: ` : '';
  return `${name}${msg}`;
}

/** Nearest suite or module (from the test up) that recorded errors of its own, if any. */
function brokenAncestor(test) {
  for (let p = test.parent; p; p = p.type === 'module' ? undefined : p.parent) {
    if (p.errors().length > 0) return p;
  }
  return undefined;
}

function where(entity) {
  return entity.type === 'module' ? entity.relativeModuleId : `${entity.module.relativeModuleId} > ${entity.fullName}`;
}

export default class TestSummaryReporter {
  onTestRunEnd(testModules, unhandledErrors, reason) {
    const path = process.env.LAMBDA_HAT_TEST_SUMMARY;
    if (!path) return;
    const summary = { reason, passed: 0, failures: [], skipped: [] };
    for (const mod of testModules) {
      for (const e of mod.errors()) summary.failures.push({ kind: 'file', where: where(mod), error: describeError(e) });
      for (const suite of mod.children.allSuites()) {
        for (const e of suite.errors()) summary.failures.push({ kind: 'suite', where: where(suite), error: describeError(e) });
      }
      for (const test of mod.children.allTests()) {
        const r = test.result();
        if (r.state === 'passed') summary.passed++;
        else if (r.state === 'failed') {
          summary.failures.push({ kind: 'test', where: where(test), error: describeError(r.errors?.[0]) });
        } else if (r.state === 'pending') {
          summary.failures.push({ kind: 'test', where: where(test), error: 'did not finish (the run was interrupted)' });
        } else {
          const broken = test.options.mode === 'run' && r.note === undefined ? brokenAncestor(test) : undefined;
          const why = broken
            ? `not run: ${broken.type === 'module' ? 'its file' : `suite '${broken.name}'`} failed`
            : r.note ?? (test.options.mode === 'todo' ? 'todo' : 'skipped');
          summary.skipped.push({ where: where(test), reason: why });
        }
      }
    }
    for (const e of unhandledErrors) {
      // vitest names the test that was running when the error surfaced, when there was one.
      const file = e?.VITEST_TEST_PATH ? relative(process.cwd(), e.VITEST_TEST_PATH) : null;
      const test = e?.VITEST_TEST_NAME ?? null;
      const where = file ? `${file}${test ? ` > ${test}` : ''}` : 'outside any test';
      summary.failures.push({ kind: 'unhandled', where: `${where}${e?.type ? ` (${e.type})` : ''}`, error: describeError(e) });
    }
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(summary, null, 1));
    renameSync(tmp, path);
  }
}
