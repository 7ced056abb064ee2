/**
 * Cross-sampler agreement: when several samplers estimate λ̂ of one target, their estimates
 * must agree within Monte Carlo error, or at least one of them is biased (a step size too
 * large, a chain that has not converged, a variational family that cannot follow the
 * posterior). Each estimate is compared with a reference by
 *
 *     z = |λ̂ - λ̂_ref| / sqrt(MCSE² + SE_ref²),
 *
 * which is standard normal when both are unbiased and independent with those standard errors,
 * and flagged when z > AGREEMENT_Z = 3 (two-sided false-alarm rate 0.27% per comparison).
 *
 * The reference is HMC's estimate when an HMC run of the target has no warnings of its own
 * (exact Metropolis-adjusted sampling: its only error is Monte Carlo error). Otherwise each
 * estimate is compared with the inverse-variance weighted mean of the *other* estimates
 * (leave one out, so the statistic stays standard normal: the two are independent), with SE²
 * = 1 / Σ 1/MCSE_j². A reference is never less trustworthy than what it judges: an estimate
 * without warnings is compared only with others without warnings (and not at all when there
 * are none), one with warnings with the warning-free others when there are any. Variational
 * estimates are tested but never part of a reference: their family is biased on singular
 * posteriors by construction.
 */

/** z above which two estimates disagree; 3 means a 0.27% false-alarm rate per comparison. */
export const AGREEMENT_Z = 3;

export interface SamplerEstimate {
  /** Identifies the row (e.g. run id or sampler index). */
  key: string;
  sampler: string;
  mean: number | null;
  mcse: number | null;
  /** False when the estimate carries warnings of its own: then it cannot be the reference. */
  trusted: boolean;
  /** A variational estimate: tested against the others, never part of their reference. */
  variational: boolean;
}

export interface AgreementCheck {
  key: string;
  sampler: string;
  mean: number;
  mcse: number;
  /** 'hmc' (its key in `reference_key`) or 'consensus of sgld, mclmc'. */
  reference: string;
  reference_key: string | null;
  reference_mean: number;
  reference_se: number;
  z: number;
  disagrees: boolean;
}

export interface TargetAgreement {
  z_threshold: number;
  /** 'hmc' when an HMC estimate without warnings is the reference, else 'consensus'. */
  mode: 'hmc' | 'consensus';
  checks: AgreementCheck[];
  /** Estimates that could not be compared, and why. */
  skipped: { key: string; sampler: string; reason: string }[];
}

function usable(e: SamplerEstimate): e is SamplerEstimate & { mean: number; mcse: number } {
  return e.mean !== null && Number.isFinite(e.mean) && e.mcse !== null && Number.isFinite(e.mcse) && e.mcse > 0;
}

function check(e: SamplerEstimate & { mean: number; mcse: number }, reference: string, refKey: string | null, refMean: number, refSe: number, zMax: number): AgreementCheck {
  const z = Math.abs(e.mean - refMean) / Math.hypot(e.mcse, refSe);
  return {
    key: e.key, sampler: e.sampler, mean: e.mean, mcse: e.mcse,
    reference, reference_key: refKey, reference_mean: refMean, reference_se: refSe,
    z, disagrees: z > zMax,
  };
}

/** Checks every estimate of one target against its reference (see the module comment). */
export function crossSamplerAgreement(estimates: readonly SamplerEstimate[], zMax: number = AGREEMENT_Z): TargetAgreement {
  const skipped: TargetAgreement['skipped'] = [];
  const ok: (SamplerEstimate & { mean: number; mcse: number })[] = [];
  for (const e of estimates) {
    if (usable(e)) ok.push(e);
    else skipped.push({ key: e.key, sampler: e.sampler, reason: e.mean === null ? 'no estimate' : 'no MCSE' });
  }
  const hmc = ok
    .filter((e) => e.sampler === 'hmc' && e.trusted && !e.variational)
    .sort((a, b) => a.mcse - b.mcse)[0];
  if (hmc !== undefined) {
    const checks = ok.filter((e) => e !== hmc).map((e) => check(e, 'hmc', hmc.key, hmc.mean, hmc.mcse, zMax));
    return { z_threshold: zMax, mode: 'hmc', checks, skipped };
  }
  const checks: AgreementCheck[] = [];
  for (const e of ok) {
    const candidates = ok.filter((o) => o !== e && !o.variational);
    const trustedOthers = candidates.filter((o) => o.trusted);
    const others = e.trusted || trustedOthers.length > 0 ? trustedOthers : candidates;
    if (others.length === 0) {
      if (ok.length > 1) {
        const why = candidates.length > 0 ? 'no estimate without warnings to compare with' : 'no non-variational estimate to compare with';
        skipped.push({ key: e.key, sampler: e.sampler, reason: why });
      }
      continue;
    }
    let wSum = 0;
    let wMean = 0;
    for (const o of others) {
      const w = 1 / (o.mcse * o.mcse);
      wSum += w;
      wMean += w * o.mean;
    }
    const label = `consensus of ${others.map((o) => o.sampler).join(', ')}`;
    checks.push(check(e, label, others.length === 1 ? others[0]!.key : null, wMean / wSum, Math.sqrt(1 / wSum), zMax));
  }
  return { z_threshold: zMax, mode: 'consensus', checks, skipped };
}

/** One line for a flagged estimate, e.g. "disagrees with hmc: 7.42 ± 0.09 vs 6.93 ± 0.13 (z = 3.1 > 3)". */
export function disagreementReason(c: AgreementCheck, zMax: number = AGREEMENT_Z): string {
  const f = (x: number): string => String(Number(x.toPrecision(4)));
  return (
    `disagrees with ${c.reference}: ${f(c.mean)} ± ${f(c.mcse)} vs ${f(c.reference_mean)} ± ${f(c.reference_se)} ` +
    `(z = ${c.z.toFixed(1)} > ${zMax})`
  );
}
