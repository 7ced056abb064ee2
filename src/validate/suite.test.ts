// The ground-truth suite at its quick size with the default (calibrated) SGLD: a regular
// linear layer (lambda = d/2) and small DLNs (Aoyagi). Tolerance derivation: the calibration
// sets the Gaussian discretisation bias to target_bias = 3% of lambda; the pilot's noise
// can double it, and for singular directions the bias is smaller (calibrate.ts), so
// |lambda-hat - lambda| <= 2 * 0.03 * lambda + 3 MCSE.
import { describe, expect, it } from 'vitest';
import { runValidation } from './suite.js';

describe('validate suite (quick)', () => {
  it('SGLD meets the identity and the known learning coefficients', async () => {
    const rows = await runValidation({ sampler: 'sgld', quick: true, seed: 0 });
    expect(rows.map((r) => r.kind)).toEqual(['identity', 'regular', 'aoyagi', 'aoyagi']);
    for (const r of rows) {
      expect(r.mcse, r.case).not.toBeNull();
      const tol = r.kind === 'identity' ? 3 * r.mcse! : 2 * 0.03 * r.truth + 3 * r.mcse!;
      expect(Math.abs(r.lambda_hat - r.truth), `${r.case}: ${r.lambda_hat} vs ${r.truth}`).toBeLessThan(tol);
    }
    expect(rows[1]!.truth).toBe(rows[1]!.d / 2);
  }, 90_000);
});
