// Loads, validates and prints conntrail's configuration (schema in ./schema.ts).
// Order of precedence: defaults < config file < CONNTRAIL_* environment.
import fs from 'node:fs';
import convict from 'convict';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { allFormats, formatSpec } from './formats.ts';
import { ruleViolations } from './rules.ts';
import { configSchema } from './schema.ts';

type Widen<T> = T extends string ? T : T extends number ? number : T extends boolean ? boolean : T;
type ConfigOf<S> = {
  [K in keyof S]: S[K] extends { doc: string; default: infer D } ? Widen<D> : ConfigOf<S[K]>;
};
export type ConntrailConfig = ConfigOf<typeof configSchema>;

/** A user error in the configuration: printed as one line, exit code 2, no stack. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

let formatsRegistered = false;
/** The formats of formats.ts, as convict formats: the check throws what is expected, the coercion reads environment text. */
function registerFormats(): void {
  if (formatsRegistered) return;
  formatsRegistered = true;
  for (const spec of allFormats()) {
    convict.addFormat({
      name: spec.name,
      validate: (value: unknown) => {
        if (!spec.check(value)) throw new Error(`expected ${spec.expected}`);
      },
      ...(spec.fromEnv ? { coerce: spec.fromEnv } : {}),
    });
  }
}

/** CONNTRAIL_ + the key path in upper snake case: kafka.batch.lingerMs -> CONNTRAIL_KAFKA_BATCH_LINGER_MS. */
export function envName(path: string): string {
  return 'CONNTRAIL_' + path.split('.').map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

type SchemaNode = Record<string, unknown>;
const isLeaf = (node: unknown): node is SchemaNode => typeof node === 'object' && node !== null && 'doc' in node && 'default' in node;

/** Every leaf of the schema with its dotted path. */
export function schemaLeaves(node: SchemaNode = configSchema as unknown as SchemaNode, prefix = ''): Array<{ path: string; leaf: SchemaNode }> {
  const out: Array<{ path: string; leaf: SchemaNode }> = [];
  for (const [key, child] of Object.entries(node)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isLeaf(child)) out.push({ path, leaf: child });
    else out.push(...schemaLeaves(child as SchemaNode, path));
  }
  return out;
}

function schemaWithEnv(node: SchemaNode, prefix = ''): SchemaNode {
  const out: SchemaNode = {};
  for (const [key, child] of Object.entries(node)) {
    const path = prefix ? `${prefix}.${key}` : key;
    out[key] = isLeaf(child) ? { ...child, env: envName(path) } : schemaWithEnv(child as SchemaNode, path);
  }
  return out;
}

function lookup(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

/** What a leaf accepts, in words (the format's own text, or the values of an enumeration). */
export function expectedOf(leaf: SchemaNode): string {
  const spec = formatSpec(leaf.format);
  if (spec) return spec.expected;
  if (Array.isArray(leaf.format)) return `one of ${JSON.stringify(leaf.format)}`;
  return String(leaf.format);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A file's (or the overrides') values against the shape of the schema, before
 * convict sees them: a section must be an object (else it is named once, not
 * once per key under it), and a key gets a JSON value of its own type: convict
 * would read "no" as a boolean and "10" as a number, as if from the environment.
 * Keys the schema does not have are left to convict's strict validation.
 */
function shapeErrors(node: SchemaNode, value: Record<string, unknown>, show: (key: string) => string, prefix = ''): string[] {
  const out: string[] = [];
  for (const [key, child] of Object.entries(node)) {
    if (!Object.hasOwn(value, key)) continue;
    const path = prefix ? `${prefix}.${key}` : key;
    const v = value[key];
    if (isLeaf(child)) {
      const takesText = typeof child.default === 'string';
      if ((typeof v === 'string' && !takesText) || isPlainObject(v)) out.push(`${path} = ${show(path)}: expected ${expectedOf(child)}`);
    } else if (!isPlainObject(v)) {
      out.push(`${path} = ${show(path)}: expected an object (the ${path} section)`);
    } else {
      out.push(...shapeErrors(child as SchemaNode, v, show, path));
    }
  }
  return out;
}

/** convict's message, one error a line ("key: expected ...: value was ..."), as "key = value: expected ...". */
function explain(message: string, show: (key: string) => string): string[] {
  return message.split('\n').map((line) => {
    const undeclared = /^configuration param '(.+)' not declared in the schema$/.exec(line);
    if (undeclared) {
      const key = undeclared[1] as string;
      return `unknown config key "${key}" (value ${show(key)}): not a conntrail setting; \`conntrail config --reference\` lists them`;
    }
    const m = /^([\w.]+): (.*?)(?:: value was .*)?$/.exec(line);
    if (!m) return line;
    const key = m[1] as string;
    const expected = (m[2] as string).replace(/^must be one of the possible values: /, 'expected one of ');
    return `${key} = ${show(key)}: ${expected}`;
  });
}

/** One line for the user: the first error, and how many more (with their keys) there are. */
function oneLine(errors: string[]): string {
  const [first, ...rest] = errors;
  if (rest.length === 0) return first ?? 'invalid configuration';
  const keys = rest.map((e) => /^unknown config key "([^"]+)"/.exec(e)?.[1] ?? e.split(' ')[0]);
  return `${first} (and ${rest.length} more: ${keys.join(', ')})`;
}

export interface LoadOptions {
  /** Path of a JSON config file (optional). */
  file?: string | undefined;
  /** Environment to read CONNTRAIL_* overrides from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Extra values laid over the file, used by tests. */
  overrides?: Record<string, unknown>;
}

export interface LoadedConfig {
  config: ConntrailConfig;
  /** The effective config as JSON text with secrets masked. */
  printable(): string;
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  registerFormats();
  const env = options.env ?? process.env;
  const sensitive = new Set(schemaLeaves().filter(({ leaf }) => leaf.sensitive === true).map(({ path }) => path));
  const given: Record<string, unknown> = {};
  let current: () => unknown = () => undefined;
  /** The value of a key as the user gave it: the environment's text, the file's JSON, else the value in effect. */
  const show = (key: string): string => {
    const fromEnv = Object.hasOwn(env, envName(key)) ? env[envName(key)] : undefined;
    const fromFile = lookup(given, key);
    const value = fromEnv ?? (fromFile !== undefined ? fromFile : lookup(current(), key));
    const text = sensitive.has(key) && value !== '' ? '"[masked]"' : typeof value === 'number' && !Number.isFinite(value) ? String(value) : JSON.stringify(value);
    return fromEnv !== undefined ? `${text} (from ${envName(key)})` : text;
  };
  const fail = (errors: string[]): never => {
    throw new ConfigError(oneLine(errors));
  };

  const layers: Array<Record<string, unknown>> = [];
  if (options.file) {
    let text: string;
    try {
      text = fs.readFileSync(options.file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ConfigError(`config file ${options.file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    // JSONC: comments and trailing commas allowed, so example files can explain themselves.
    const errors: ParseError[] = [];
    const parsed: unknown = parseJsonc(text, errors, { allowTrailingComma: true });
    if (errors.length > 0) {
      const first = errors[0] as ParseError;
      const line = text.slice(0, first.offset).split('\n').length;
      throw new ConfigError(`config file ${options.file}: not valid JSON at line ${line}: ${printParseErrorCode(first.error)}`);
    }
    if (!isPlainObject(parsed)) {
      throw new ConfigError(`config file ${options.file}: expected a JSON object at the top level, got ${JSON.stringify(parsed)}`);
    }
    layers.push(parsed);
  }
  if (options.overrides) layers.push(options.overrides);
  for (const layer of layers) {
    Object.assign(given, layer);
    const shape = shapeErrors(configSchema as unknown as SchemaNode, layer, show);
    if (shape.length > 0) fail(shape);
  }

  let conf: ReturnType<typeof convict>;
  try {
    // reads the CONNTRAIL_* environment (coerced by each format's fromEnv) and keeps it over every load()
    conf = convict(schemaWithEnv(configSchema as unknown as SchemaNode) as never, { env, args: [] });
    for (const layer of layers) conf.load(layer as never);
  } catch (err) {
    // the formats' coercions do not throw: this is a bug, not a bad config
    throw new Error(`loading the configuration: ${(err as Error).message}`, { cause: err });
  }
  current = () => conf.getProperties();
  try {
    conf.validate({ allowed: 'strict' });
  } catch (err) {
    fail(explain((err as Error).message, show));
  }
  const config = conf.getProperties() as ConntrailConfig;
  const broken = ruleViolations(config);
  if (broken.length > 0) fail(broken.map(({ key, expected }) => `${key} = ${show(key)}: ${expected}`));
  return {
    config,
    printable: () => conf.toString(),
  };
}
