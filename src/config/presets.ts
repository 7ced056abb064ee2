// Shipped presets live in <package>/config/presets/<kind>/<name>.yaml. The path is found from
// this module's URL, which is two levels below the package root both in src/ (tsx) and dist/.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { ConfigError, isPlainObject, nearestKey, readYamlFile, validateConfig, type ConfigSource } from './load.js';
import { applySectionCompat, CompatLog, pythonSectionKeys } from './python-compat.js';

export type PresetKind = 'model' | 'data' | 'teacher' | 'training';

export function defaultPresetsDir(): string {
  return fileURLToPath(new URL('../../config/presets/', import.meta.url));
}

export function listPresets(kind: PresetKind, dir: string = defaultPresetsDir()): string[] {
  const d = join(dir, kind);
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .map((f) => f.replace(/\.ya?ml$/, ''))
    .sort();
}

/**
 * Loads and validates preset `name` of `kind`. An unknown name is an error located where
 * the name was written (`at`), listing the presets that exist and the nearest one. A preset
 * may use the Python system's key names (e.g. its data presets' `n_data`); their notes go to
 * `log`, located in the preset file.
 */
export function loadPreset<S extends z.ZodType>(
  kind: PresetKind,
  name: string,
  schema: S,
  at: { source: ConfigSource; path: ReadonlyArray<string | number> },
  dir: string = defaultPresetsDir(),
  log: CompatLog = new CompatLog(),
): z.output<S> {
  const file = [join(dir, kind, `${name}.yaml`), join(dir, kind, `${name}.yml`)].find((f) => existsSync(f));
  if (file === undefined) {
    const available = listPresets(kind, dir);
    const near = nearestKey(name, available);
    throw at.source.error(
      at.path,
      `unknown ${kind} preset '${name}'`,
      `${near !== undefined ? `did you mean '${near}'? ` : ''}available: ${available.join(', ') || '(none)'}; or write an inline mapping`,
    );
  }
  const { value, source } = readYamlFile(file);
  const section = isPlainObject(value) ? { ...value } : value;
  if (isPlainObject(section)) applySectionCompat(kind, section, [], source, log);
  const parsed = validateConfig(section, schema, source, [], (path) => (path.length === 0 ? pythonSectionKeys(kind) : []));
  if ((parsed as { preset?: unknown }).preset !== undefined) {
    throw new ConfigError(`${file}: a preset cannot name another preset`, file, source.lineOf(['preset']), ['preset']);
  }
  return parsed;
}
