// Chain worker bootstrap used only when running from TypeScript source (vitest, tsx, benches):
// `--import tsx` in a worker's execArgv registers its loader too late for the worker's own
// file, so register it here, synchronously, then load the real worker. From the compiled
// package (dist/) the runner starts chain-worker.js directly and skips this file.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./chain-worker.ts', import.meta.url).href);
