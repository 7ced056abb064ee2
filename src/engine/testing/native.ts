// How the engine tests treat the optional native addon: its tests run whenever it loads; when it
// was not built (no compiler, LAMBDA_HAT_NATIVE=0) they are skipped under a title that says why,
// and when a built addon fails to load that is a test failure, never a skip.
import { existsSync } from 'node:fs';
import { it } from 'vitest';
import { nativeAddon, type NativeAddon } from '../native-addon.js';

/** The loaded addon, or null after registering the skip (or the failure) that explains why. */
export function nativeOrExplain(): NativeAddon | null {
  const status = nativeAddon();
  if (status.available) return status.addon;
  if (existsSync(status.path)) {
    it('the built native addon loads', () => {
      throw new Error(status.reason);
    });
    return null;
  }
  console.warn(`native engine tests SKIPPED: ${status.reason}`);
  it.skip(`native engine tests skipped: ${status.reason}`, () => {});
  return null;
}
