// Piscina worker for samplers.bench.ts: one chain's SGLD steps/s.
import { sgldRate } from './samplers.bench.js';
import { enableRelaxedSimd, type EngineImpl } from '../src/engine/index.js';

export default function run(a: { net: string; impl: EngineImpl; seconds: number }): number {
  enableRelaxedSimd();
  return sgldRate(a.net, a.impl, a.seconds);
}
