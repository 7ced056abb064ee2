/**
 * Which Chromium the report test and `doctor` use: Debian's when its path exists, else the one
 * @sparticuz/chromium ships (inflated once, atomically), else a message naming both fixes.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { chromiumVersion, ensureChromium, locateChromium } from '../../src/report/chromium.js';

const scratch = mkdtempSync(join(tmpdir(), 'lh-chromium-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('locating a Chromium', () => {
  it("prefers Debian's chromium when it is installed", async () => {
    const fake = join(scratch, 'chromium');
    writeFileSync(fake, '#!/bin/sh\necho "Chromium 1.2.3"\n', { mode: 0o755 });
    expect(locateChromium({ debianPath: fake })).toEqual({ kind: 'debian', path: fake });
    expect(await ensureChromium({ debianPath: fake })).toEqual({ kind: 'debian', path: fake });
    expect(chromiumVersion(fake)).toEqual({ version: 'Chromium 1.2.3', error: null });
  });

  it('falls back to the bundled Chromium, which runs headless here', async () => {
    const loc = locateChromium({ debianPath: join(scratch, 'absent') });
    expect(loc.kind).toBe('bundled');
    if (loc.kind !== 'bundled') return;
    expect(loc.path).toMatch(/node_modules\/\.cache\/lambda-hat\/chromium-[\d.]+\/chromium$/);
    const got = await ensureChromium({ debianPath: join(scratch, 'absent') });
    expect(got).toEqual({ kind: 'bundled', path: loc.path });
    expect(statSync(got.path).mode & 0o111).not.toBe(0);
    expect(chromiumVersion(got.path).version).toMatch(/^Chromium \d+\./);
  }, 60_000);

  it('says how to get one when there is neither', async () => {
    // Resolving from a directory with no node_modules finds no bundled package.
    const from = pathToFileURL(join(scratch, 'nowhere.js')).href;
    const loc = locateChromium({ debianPath: join(scratch, 'absent'), resolveFrom: from });
    expect(loc.kind).toBe('missing');
    await expect(ensureChromium({ debianPath: join(scratch, 'absent'), resolveFrom: from })).rejects.toThrow(
      /no Chromium for the report: .*npm ci.*apt-get install -y --no-install-recommends chromium/,
    );
  });
});
