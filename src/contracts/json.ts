/**
 * JSON values as the contracts carry them: what a file, a task spec or a worker reply can hold.
 * Sampler configs and tuned values are JSON objects whose shape each sampler's own schema
 * defines (src/samplers/kernels/*.ts); everything else in the contracts has a fixed shape.
 */
import { z } from 'zod';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);

export const jsonObject: z.ZodType<JsonObject> = z.record(z.string(), jsonValue);

/**
 * Values that cross a thread boundary by structured clone rather than JSON: the same shapes, but
 * a number may be NaN or infinite (JSON files never hold those; toJson turns them into null).
 */
const anyNumber = z.custom<number>((v) => typeof v === 'number', { message: 'expected a number' });
export const clonedValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.null(), z.boolean(), anyNumber, z.string(), z.array(clonedValue), z.record(z.string(), clonedValue)]),
);
export const clonedObject: z.ZodType<JsonObject> = z.record(z.string(), clonedValue);

/** A JSON-safe copy: non-finite numbers become null and typed arrays plain arrays (files never hold NaN). */
export function toJson(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(toJson);
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>, toJson);
  if (typeof v === 'object') {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = toJson(x);
    return out;
  }
  throw new TypeError(`not a JSON value: ${typeof v}`);
}

/** toJson of an object, as a JSON object. */
export function toJsonObject(v: object): JsonObject {
  const j = toJson(v);
  if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new TypeError('expected an object');
  return j;
}
