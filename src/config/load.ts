/**
 * Generic config loading: YAML file -> `--set` overrides -> zod validation, with errors that
 * name the file, the line and (for a misspelt key) the nearest valid key. Used for experiment
 * files, build files, presets, cards and sampler configs alike.
 *
 * Errors are `ConfigError`s; `formatConfigError(err)` renders any error for a terminal.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';

export type ConfigPath = ReadonlyArray<string | number>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    /** The complete, human-readable message (file:line: what is wrong [; hint]). */
    message: string,
    readonly file: string | undefined,
    readonly line: number | undefined,
    readonly path: ConfigPath,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export function pathString(path: ConfigPath): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

/** Levenshtein distance; small inputs only (config keys). */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/**
 * The candidate closest to `word`, or undefined when nothing is plausibly a typo of it
 * (distance above half the word's length, at least 2), so we never suggest nonsense.
 */
export function nearestKey(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best === undefined) return undefined;
  return bestD <= Math.max(2, Math.ceil(word.length / 2)) ? best : undefined;
}

/**
 * Where a config came from: the file, its parsed YAML document (for path -> line) and the
 * paths that `--set` wrote (an error there points at the --set, not at a line of the file).
 */
export class ConfigSource {
  readonly setPaths: Map<string, string>;
  constructor(
    readonly file: string | undefined,
    readonly doc?: Document.Parsed,
    readonly lineCounter?: LineCounter,
    setPaths?: Map<string, string>,
  ) {
    this.setPaths = setPaths ?? new Map();
  }

  /**
   * 1-based line of the node at `path`, or of its nearest existing ancestor. With `keyOf`,
   * the line of that key inside the mapping at `path` (where an unknown key is written).
   */
  lineOf(path: ConfigPath, keyOf?: string): number | undefined {
    if (!this.doc || !this.lineCounter) return undefined;
    for (let len = path.length; len >= 0; len--) {
      const node = this.doc.getIn(path.slice(0, len), true) as YamlNodeLike | undefined;
      if (node === undefined || node === null || typeof node !== 'object') continue;
      if (keyOf !== undefined && len === path.length && Array.isArray(node.items)) {
        for (const item of node.items) {
          const k = (item as { key?: YamlNodeLike }).key;
          if (k && typeof k === 'object' && String(k.value) === keyOf && k.range) {
            return this.lineCounter.linePos(k.range[0]).line;
          }
        }
      }
      if (node.range) return this.lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  }

  /** The `--set` that wrote `path` or one of its ancestors. */
  setFor(path: ConfigPath): string | undefined {
    for (let len = path.length; len >= 1; len--) {
      const hit = this.setPaths.get(path.slice(0, len).map(String).join('.'));
      if (hit !== undefined) return hit;
    }
    return undefined;
  }

  /** A ConfigError located at `path` (message without location; this adds it). */
  error(path: ConfigPath, message: string, hint?: string, keyOf?: string): ConfigError {
    const set = this.setFor(keyOf === undefined ? path : [...path, keyOf]);
    const line = set === undefined ? this.lineOf(path, keyOf) : undefined;
    const where = set !== undefined
      ? `${this.file ?? '<config>'} (from --set ${set})`
      : `${this.file ?? '<config>'}${line !== undefined ? `:${line}` : ''}`;
    const full = `${where}: ${pathString(keyOf === undefined ? path : [...path, keyOf])}: ${message}${hint ? ` (${hint})` : ''}`;
    return new ConfigError(full, this.file, line, keyOf === undefined ? path : [...path, keyOf], hint);
  }
}

interface YamlNodeLike {
  range?: [number, number, number];
  items?: unknown[];
  value?: unknown;
}

/** Reads and parses a YAML file; a syntax error names the file and line. */
export function readYamlFile(file: string): { value: unknown; source: ConfigSource } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `${file}: cannot read config file (${code ?? (err as Error).message})`,
      file,
      undefined,
      [],
    );
  }
  return parseYamlText(text, file);
}

export function parseYamlText(text: string, file?: string): { value: unknown; source: ConfigSource } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const line = lineCounter.linePos(first.pos[0]).line;
    const msg = first.message.split('\n')[0];
    throw new ConfigError(`${file ?? '<config>'}:${line}: invalid YAML: ${msg}`, file, line, []);
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  return { value: value ?? {}, source: new ConfigSource(file, doc, lineCounter) };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Layer merge: objects merge key by key, everything else (arrays included) replaces. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return structuredClone(base);
  if (isPlainObject(base) && isPlainObject(over)) {
    const out: Record<string, unknown> = structuredClone(base);
    for (const [k, v] of Object.entries(over)) out[k] = deepMerge(out[k], v);
    return out;
  }
  return structuredClone(over);
}

/** A parsed `--set a.b.0=v`: the path (numeric segments index arrays) and the YAML value. */
export interface SetOverride {
  raw: string;
  path: string[];
  value: unknown;
}

export function parseSet(raw: string): SetOverride {
  const eq = raw.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--set ${raw}: expected key=value (e.g. --set training.steps=100)`, undefined, undefined, []);
  const keyPart = raw.slice(0, eq).trim();
  const path = keyPart.split('.');
  if (path.some((p) => p.length === 0)) {
    throw new ConfigError(`--set ${raw}: empty segment in key '${keyPart}'`, undefined, undefined, []);
  }
  let value: unknown;
  try {
    const doc = parseDocument(raw.slice(eq + 1));
    if (doc.errors.length > 0) throw new Error(doc.errors[0]!.message.split('\n')[0]);
    value = doc.toJS();
  } catch (err) {
    throw new ConfigError(`--set ${raw}: value is not valid YAML: ${(err as Error).message}`, undefined, undefined, path);
  }
  // An empty right-hand side parses as null; keep the intent of "set to empty string" explicit.
  return { raw, path, value: value === undefined ? null : value };
}

/**
 * Applies `--set` overrides to a plain value (a copy is returned). Intermediate objects are
 * created as needed; a mapping value is merged (objects merge, arrays replace), anything
 * else replaces. Records each set path in `source.setPaths` for error messages.
 */
export function applySets(value: unknown, sets: ReadonlyArray<string | SetOverride>, source?: ConfigSource): unknown {
  let root: unknown = structuredClone(value);
  for (const s of sets) {
    const o = typeof s === 'string' ? parseSet(s) : s;
    root = setIn(root, o, 0);
    source?.setPaths.set(o.path.join('.'), o.raw);
  }
  return root;
}

function setIn(node: unknown, o: SetOverride, depth: number): unknown {
  if (depth === o.path.length) return deepMerge(node, o.value);
  const seg = o.path[depth]!;
  if (Array.isArray(node)) {
    const idx = Number(seg);
    if (!Number.isInteger(idx) || idx < 0 || idx >= node.length) {
      throw new ConfigError(
        `--set ${o.raw}: '${o.path.slice(0, depth).join('.')}' is a list of ${node.length}; '${seg}' is not an index in it`,
        undefined, undefined, o.path,
      );
    }
    const copy = node.slice();
    copy[idx] = setIn(copy[idx], o, depth + 1);
    return copy;
  }
  if (node === undefined || node === null) node = {};
  if (!isPlainObject(node)) {
    throw new ConfigError(
      `--set ${o.raw}: '${o.path.slice(0, depth).join('.')}' is ${JSON.stringify(node)}, not a mapping`,
      undefined, undefined, o.path,
    );
  }
  return { ...node, [seg]: setIn(node[seg], o, depth + 1) };
}

// --- zod integration -------------------------------------------------------------------

interface ZodDefLike {
  type: string;
  shape?: Record<string, ZodLike>;
  innerType?: ZodLike;
  element?: ZodLike;
  options?: ZodLike[];
  in?: ZodLike;
  out?: ZodLike;
  valueType?: ZodLike;
  getter?: () => ZodLike;
}
interface ZodLike {
  _zod: { def: ZodDefLike };
}

/** Strips wrappers (optional, default, nullable, pipe...) to reach the structural schema(s). */
function unwrap(s: ZodLike, out: ZodLike[], depth = 0): void {
  if (depth > 20) return;
  const d = s._zod.def;
  switch (d.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      if (d.innerType) unwrap(d.innerType, out, depth + 1);
      return;
    case 'pipe':
      if (d.in) unwrap(d.in, out, depth + 1);
      return;
    case 'lazy':
      if (d.getter) unwrap(d.getter(), out, depth + 1);
      return;
    case 'union':
      for (const o of d.options ?? []) unwrap(o, out, depth + 1);
      return;
    default:
      out.push(s);
  }
}

/** The keys an object schema accepts at `path` (union of all union branches). */
export function knownKeysAt(schema: z.ZodType, path: ConfigPath): string[] {
  let level: ZodLike[] = [];
  unwrap(schema as unknown as ZodLike, level);
  for (const seg of path) {
    const next: ZodLike[] = [];
    for (const s of level) {
      const d = s._zod.def;
      if (d.type === 'object' && d.shape && typeof seg === 'string' && d.shape[seg]) unwrap(d.shape[seg], next);
      else if (d.type === 'array' && d.element && typeof seg === 'number') unwrap(d.element, next);
      else if (d.type === 'record' && d.valueType) unwrap(d.valueType, next);
    }
    level = next;
  }
  const keys = new Set<string>();
  for (const s of level) {
    const d = s._zod.def;
    if (d.type === 'object' && d.shape) for (const k of Object.keys(d.shape)) keys.add(k);
  }
  return [...keys];
}

interface IssueLike {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
  errors?: IssueLike[][];
  expected?: string;
  values?: unknown[];
}

function describeIssue(issue: IssueLike): string {
  switch (issue.code) {
    case 'invalid_value':
      if (issue.values) return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
      return issue.message;
    default:
      return issue.message.replace(/^Invalid input: /, '');
  }
}

/** Further names a mapping at `path` accepts (e.g. the Python system's keys), for did-you-mean. */
export type KeySuggestions = (path: ConfigPath) => readonly string[];

/** Converts the first zod issue into a located ConfigError. */
export function issueToConfigError(
  issue: IssueLike,
  schema: z.ZodType,
  source: ConfigSource,
  base: ConfigPath = [],
  suggest?: KeySuggestions,
): ConfigError {
  const path: (string | number)[] = [...base, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
  if (issue.code === 'unrecognized_keys' && issue.keys && issue.keys.length > 0) {
    const bad = issue.keys[0]!;
    const valid = knownKeysAt(schema, issue.path.filter((p): p is string | number => typeof p !== 'symbol'));
    const near = nearestKey(bad, [...valid, ...(suggest?.(path) ?? [])]);
    const hint = near !== undefined
      ? `did you mean '${near}'?`
      : valid.length > 0 ? `valid keys: ${valid.sort().join(', ')}` : undefined;
    return source.error(path, `unknown key '${bad}'`, hint, bad);
  }
  if (issue.code === 'invalid_union' && issue.errors && issue.errors.length > 0) {
    // Report the branch that got furthest (the one whose first issue lies deepest).
    let best: IssueLike | undefined;
    for (const branch of issue.errors) {
      const first = branch[0];
      if (first && (!best || first.path.length > best.path.length)) best = first;
    }
    if (best && best.path.length > 0) {
      return issueToConfigError({ ...best, path: [...issue.path, ...best.path] }, schema, source, base, suggest);
    }
  }
  return source.error(path, describeIssue(issue));
}

/** Validates `value` with `schema`; throws a located ConfigError on the first issue. */
export function validateConfig<S extends z.ZodType>(
  value: unknown,
  schema: S,
  source: ConfigSource,
  base: ConfigPath = [],
  suggest?: KeySuggestions,
): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues as unknown as IssueLike[];
  // Unknown keys first: a typo usually also causes a "missing required key" issue, and the
  // typo is the root cause the user needs to see.
  const sorted = [...issues].sort((a, b) => rank(a) - rank(b));
  throw issueToConfigError(sorted[0]!, schema, source, base, suggest);
}

function rank(i: IssueLike): number {
  return i.code === 'unrecognized_keys' ? 0 : 1;
}

/**
 * Reads a YAML config file, applies `--set` overrides (dotted paths, YAML values; objects
 * merge, arrays replace), validates it with `schema` and returns the parsed value.
 * Throws ConfigError (file, line, nearest valid key) on any problem.
 */
export function parseConfigFile<S extends z.ZodType>(
  file: string,
  schema: S,
  sets: ReadonlyArray<string> = [],
): z.output<S> {
  return loadConfigFile(file, schema, sets).value;
}

/** As parseConfigFile, also returning the ConfigSource for locating later semantic errors. */
export function loadConfigFile<S extends z.ZodType>(
  file: string,
  schema: S,
  sets: ReadonlyArray<string> = [],
  normalize?: (raw: unknown) => unknown,
): { value: z.output<S>; raw: unknown; source: ConfigSource } {
  const { value, source } = readYamlFile(file);
  // Normalised before the sets (so paths into a normalised form work) and after (so a set
  // that writes a shorthand, e.g. a preset name, is normalised too).
  const norm = normalize ?? ((v: unknown): unknown => v);
  const raw = norm(applySets(norm(value), sets, source));
  return { value: validateConfig(raw, schema, source), raw, source };
}

/** One-line (or few-line) rendering of any error for a terminal. */
export function formatConfigError(err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
