// Piscina worker for samplers.bench.ts: one chain's SGLD steps/s.
import { sgldRate } from './samplers.bench.js';
import type { EngineImpl } from '../src/engine/types.js';

export default function run(a: { net: string; impl: EngineImpl; seconds: number }): number {
  return sgldRate(a.net, a.impl, a.seconds);
}
