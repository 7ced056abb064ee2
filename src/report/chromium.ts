/**
 * A headless Chromium for looking at reports (the browser test, screenshots): Debian's
 * `chromium` when it is installed, else the Chromium that the dev dependency
 * @sparticuz/chromium ships inside its npm tarball (brotli-compressed, so nothing is downloaded
 * at install or run time). That binary is inflated once into node_modules/.cache next to the
 * package, written to a temp name and renamed, so concurrent test processes never run a
 * half-written file.
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';
import { execFileSync } from 'node:child_process';

export const DEBIAN_CHROMIUM = '/usr/bin/chromium';
export const BUNDLED_CHROMIUM_PACKAGE = '@sparticuz/chromium';

/** Flags for a headless run as root, without a GPU, that never reaches the network by itself. */
export const HEADLESS_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
] as const;

export type ChromiumLocation =
  | { kind: 'debian'; path: string }
  /** `ready` is false until the binary has been inflated (ensureChromium does it). */
  | { kind: 'bundled'; path: string; version: string; compressed: string; ready: boolean }
  | { kind: 'missing'; reason: string };

export interface LocateOptions {
  /** Where Debian installs chromium (tests point it elsewhere to see the other branches). */
  debianPath?: string;
  /** Resolve the bundled package from here (default: this module). */
  resolveFrom?: string;
}

/** The bundled package's directory and version, or null when it is not installed. */
function bundledPackage(resolveFrom: string): { dir: string; version: string } | null {
  let entry: string;
  try {
    entry = createRequire(resolveFrom).resolve(BUNDLED_CHROMIUM_PACKAGE);
  } catch {
    return null;
  }
  // Its exports map hides package.json: walk up from the entry point to it.
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const pj = join(dir, 'package.json');
    if (!existsSync(pj)) continue;
    const meta = JSON.parse(readFileSync(pj, 'utf8')) as { name?: string; version?: string };
    if (meta.name === BUNDLED_CHROMIUM_PACKAGE) return { dir, version: meta.version ?? 'unknown' };
  }
  return null;
}

/** Which Chromium a report would be opened with, without starting or inflating anything. */
export function locateChromium(opts: LocateOptions = {}): ChromiumLocation {
  const debian = opts.debianPath ?? DEBIAN_CHROMIUM;
  if (existsSync(debian)) return { kind: 'debian', path: debian };
  const pkg = bundledPackage(opts.resolveFrom ?? import.meta.url);
  if (pkg === null) {
    return {
      kind: 'missing',
      reason:
        `no ${debian} and no ${BUNDLED_CHROMIUM_PACKAGE} (a dev dependency: \`npm ci\` installs it; ` +
        'or `apt-get install -y --no-install-recommends chromium`)',
    };
  }
  const compressed = join(pkg.dir, 'bin', 'chromium.br');
  if (!existsSync(compressed)) {
    return { kind: 'missing', reason: `${BUNDLED_CHROMIUM_PACKAGE} ${pkg.version} has no bin/chromium.br for this platform` };
  }
  // <node_modules>/@sparticuz/chromium -> <node_modules>/.cache/lambda-hat/chromium-<version>/chromium
  const path = join(dirname(dirname(pkg.dir)), '.cache', 'lambda-hat', `chromium-${pkg.version}`, 'chromium');
  return { kind: 'bundled', path, version: pkg.version, compressed, ready: existsSync(path) };
}

/**
 * The path of a Chromium that runs: Debian's, or the bundled one (inflated on first use, about
 * 5 s). Throws, naming both ways to get one, when there is none.
 */
export async function ensureChromium(opts: LocateOptions = {}): Promise<{ path: string; kind: 'debian' | 'bundled' }> {
  const loc = locateChromium(opts);
  if (loc.kind === 'missing') throw new Error(`no Chromium for the report: ${loc.reason}`);
  if (loc.kind === 'debian') return { path: loc.path, kind: 'debian' };
  if (!loc.ready) {
    mkdirSync(dirname(loc.path), { recursive: true });
    const tmp = `${loc.path}.${process.pid}.${Date.now()}.tmp`;
    try {
      await pipeline(createReadStream(loc.compressed), createBrotliDecompress(), createWriteStream(tmp, { mode: 0o755 }));
      renameSync(tmp, loc.path);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw new Error(`cannot inflate ${loc.compressed} to ${loc.path}: ${(err as Error).message}`);
    }
  }
  return { path: loc.path, kind: 'bundled' };
}

/** `chromium --version`, or null with the reason it did not answer. */
export function chromiumVersion(path: string): { version: string | null; error: string | null } {
  try {
    const out = execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
    return { version: out.trim(), error: null };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { version: null, error: (e.stderr ?? '').trim().split('\n').pop() || e.message };
  }
}
