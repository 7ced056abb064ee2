#!/usr/bin/env node
// Builds the native engine addon (native/*.cc -> build/Release/lambda_hat_native.node) with the
// node-gyp that ships inside npm and the Node headers installed next to the node binary, so no
// download happens. Runs from `npm ci` (the install script) and `npm run build`.
//
// It never fails the install: when anything is missing or the compiler fails, it prints why and
// exits 0, and the engine runs its wasm kernels instead (src/engine/index.ts falls back when the
// addon does not load). A failed build removes the previous binary, so a stale addon compiled
// from other sources is never loaded.
//
// Skipped, with a message, when LAMBDA_HAT_NATIVE=0 (to install or test without the addon).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const addon = join(root, 'build', 'Release', 'lambda_hat_native.node');
const TIMEOUT_MS = 10 * 60 * 1000;

function say(msg) {
  console.log(`build-native: ${msg}`);
}

function fallBack(reason, detail) {
  rmSync(addon, { force: true });
  if (detail) console.error(detail.trimEnd().split('\n').slice(-25).join('\n'));
  say(`${reason}`);
  say('the native engine is not available; the engine will use its wasm kernels (same results, slower).');
  process.exit(0);
}

/** node-gyp as shipped with npm: the path npm exports to lifecycle scripts, else npm's own copy. */
function findNodeGyp() {
  const candidates = [];
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm) candidates.push(fromNpm);
  const prefix = dirname(dirname(process.execPath));
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((p) => existsSync(p)) ?? null;
}

/** Headers already on disk: next to the node binary (distribution packages), else node-gyp's cache. */
function findNodeDir() {
  const prefix = dirname(dirname(process.execPath));
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) return prefix;
  const cache = join(process.env.npm_config_devdir ?? join(homedir(), '.cache', 'node-gyp'), process.versions.node);
  if (existsSync(join(cache, 'include', 'node', 'node_api.h'))) return cache;
  return null;
}

function newestSource() {
  let t = statSync(join(root, 'binding.gyp')).mtimeMs;
  for (const f of readdirSync(join(root, 'native'))) t = Math.max(t, statSync(join(root, 'native', f)).mtimeMs);
  return t;
}

function loads() {
  // In a child process: a binary that crashes on load must not take this script down with it.
  const r = spawnSync(
    process.execPath,
    ['-e', `const a = require(${JSON.stringify(addon)}); if (typeof a.create !== 'function') process.exit(3); console.log(a.kernels)`],
    { encoding: 'utf8', timeout: 60_000 },
  );
  return r.status === 0 ? { ok: true, kernels: r.stdout.trim() } : { ok: false, detail: `${r.stderr ?? ''}${r.error ?? ''}` };
}

function main() {
  if (process.env.LAMBDA_HAT_NATIVE === '0') fallBack('skipped (LAMBDA_HAT_NATIVE=0)');
  if (existsSync(addon) && statSync(addon).mtimeMs >= newestSource()) {
    const l = loads();
    if (l.ok) {
      say(`up to date (${addon}, kernels ${l.kernels})`);
      return;
    }
  }
  const gyp = findNodeGyp();
  if (gyp === null) fallBack('node-gyp was not found (it ships with npm)');
  const nodedir = findNodeDir();
  if (nodedir === null) fallBack(`no Node headers on this machine (looked next to ${process.execPath} and in the node-gyp cache)`);
  const args = [gyp, 'configure', 'build', `--nodedir=${nodedir}`, '--jobs=2', '--loglevel=warn'];
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: TIMEOUT_MS, env: process.env });
  if (r.error) fallBack(`node-gyp could not run: ${r.error.message}`, `${r.stdout ?? ''}${r.stderr ?? ''}`);
  if (r.status !== 0) fallBack(`the compiler failed (node-gyp exit ${r.status})`, `${r.stdout ?? ''}${r.stderr ?? ''}`);
  if (!existsSync(addon)) fallBack(`node-gyp succeeded but ${addon} is missing`, r.stdout);
  const l = loads();
  if (!l.ok) fallBack('the built addon does not load', l.detail);
  say(`built ${addon} in ${((Date.now() - t0) / 1000).toFixed(0)} s (kernels ${l.kernels})`);
}

try {
  main();
} catch (e) {
  fallBack(`unexpected error: ${e instanceof Error ? e.message : String(e)}`);
}
