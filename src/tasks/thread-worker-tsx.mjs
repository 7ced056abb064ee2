// Worker-thread bootstrap used only when running from TypeScript source (vitest, tsx, benches):
// `--import tsx` in a worker's execArgv registers its loader too late for piscina's import of
// the worker file, so register it here, synchronously, then load the real worker.
// From the compiled package (dist/) workers load thread-worker.js directly and skip this file.
import { register } from 'tsx/esm/api';

register();
const mod = await import(new URL('./thread-worker.ts', import.meta.url).href);
export default mod.default;
