/**
 * NumPy's .npz: a zip archive of .npy members named `<key>.npy`, stored (numpy.savez) or
 * deflated (numpy.savez_compressed), with zip64 local headers (numpy forces them).
 */
import { unzipSync } from 'fflate';
import { decodeNpy, type NpyArray } from './npy.js';

export function decodeNpz(bytes: Uint8Array, source: string): Record<string, NpyArray> {
  if (!(bytes[0] === 0x50 && bytes[1] === 0x4b)) {
    throw new Error(`${source}: not a .npz file (no zip signature; numpy.savez and numpy.savez_compressed write zip archives)`);
  }
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes);
  } catch (err) {
    throw new Error(`${source}: not a readable .npz archive, truncated or corrupt (${(err as Error).message})`);
  }
  const out: Record<string, NpyArray> = {};
  for (const [name, data] of Object.entries(members)) {
    if (!name.endsWith('.npy')) continue;
    const key = name.slice(0, -4);
    out[key] = decodeNpy(data, `${source}: ${key}`);
  }
  return out;
}
