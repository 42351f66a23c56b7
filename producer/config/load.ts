// Loads, validates and prints conntrail's configuration (schema in ./schema.ts).
// Order of precedence: defaults < config file < CONNTRAIL_* environment.
import fs from 'node:fs';
import net from 'node:net';
import convict from 'convict';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { PROBE_NAMES } from 'bpf-native-loader';
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

function addFormat(name: string, validate: (value: unknown) => void, coerce?: (raw: string) => unknown): void {
  convict.addFormat({ name, validate, ...(coerce ? { coerce } : {}) });
}

const listFromEnv = (raw: string): unknown => {
  const trimmed = raw.trim();
  if (trimmed.startsWith('[')) return JSON.parse(trimmed);
  return trimmed === '' ? [] : trimmed.split(',').map((s) => s.trim());
};

function isCidr(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  const [addr, bits, ...rest] = text.split('/');
  if (rest.length > 0 || addr === undefined || bits === undefined || !/^\d+$/.test(bits)) return false;
  const family = net.isIP(addr);
  const max = family === 4 ? 32 : family === 6 ? 128 : -1;
  return max > 0 && Number(bits) <= max;
}

let formatsRegistered = false;
function registerFormats(): void {
  if (formatsRegistered) return;
  formatsRegistered = true;
  addFormat('positive-int', (v) => {
    if (!Number.isInteger(v) || (v as number) <= 0) throw new Error('expected a whole number greater than 0');
  }, Number);
  addFormat('non-negative-int', (v) => {
    if (!Number.isInteger(v) || (v as number) < 0) throw new Error('expected a whole number of 0 or more');
  }, Number);
  addFormat('power-of-two', (v) => {
    const n = v as number;
    if (!Number.isInteger(n) || n < 4096 || (n & (n - 1)) !== 0) throw new Error('expected a power of two of at least 4096 (bytes)');
  }, Number);
  addFormat('ratio', (v) => {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new Error('expected a number from 0 to 1');
  }, Number);
  const probeNames: ReadonlySet<unknown> = new Set(PROBE_NAMES);
  addFormat('probe-list', (v) => {
    if (!Array.isArray(v) || v.length === 0 || v.some((p) => !probeNames.has(p))) {
      throw new Error(`expected a non-empty list of probes from ${JSON.stringify(PROBE_NAMES)}`);
    }
  }, listFromEnv);
  addFormat('port-list', (v) => {
    if (!Array.isArray(v) || v.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
      throw new Error('expected a list of ports from 1 to 65535');
    }
  }, (raw) => (listFromEnv(raw) as string[]).map(Number));
  addFormat('cidr-list', (v) => {
    if (!Array.isArray(v) || v.some((c) => !isCidr(c))) {
      throw new Error('expected a list of CIDRs such as "10.0.0.0/8" or "fd00::/8"');
    }
  }, listFromEnv);
  addFormat('broker-list', (v) => {
    if (!Array.isArray(v) || v.some((b) => typeof b !== 'string' || !/^[^\s:]+:\d{1,5}$/.test(b))) {
      throw new Error('expected a list of host:port strings, e.g. ["127.0.0.1:9092"]');
    }
  }, listFromEnv);
  addFormat('topic-name', (v) => {
    if (typeof v !== 'string' || !/^[A-Za-z0-9._-]{1,249}$/.test(v)) {
      throw new Error('expected a Kafka topic name: 1-249 of [A-Za-z0-9._-]');
    }
  });
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

/** Turns convict's multi-line message into one line per bad key: key, value given, what is expected. */
function explain(message: string, rawValue: (key: string) => string, sensitive: Set<string>): string {
  return message.split('\n').map((line) => {
    const undeclared = /^configuration param '(.+)' not declared in the schema$/.exec(line);
    if (undeclared) {
      const key = undeclared[1] as string;
      return `unknown config key "${key}" (value ${rawValue(key)}): not a conntrail setting; \`conntrail config --reference\` lists them`;
    }
    const m = /^([\w.]+): (.*?)(?:: value was .*)?$/.exec(line);
    if (!m) return line;
    const key = m[1] as string;
    const value = sensitive.has(key) ? '"[masked]"' : rawValue(key);
    const expected = (m[2] as string).replace(/^must be one of the possible values: /, 'expected one of ');
    return `${key} = ${value}: ${expected}`;
  }).join('\n');
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
  const conf = convict(schemaWithEnv(configSchema as unknown as SchemaNode) as never, { env: options.env ?? process.env, args: [] });
  const given: Record<string, unknown> = {};
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
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`config file ${options.file}: expected a JSON object at the top level`);
    }
    Object.assign(given, parsed, options.overrides ?? {});
    conf.load(parsed as never);
  }
  if (options.overrides) conf.load(options.overrides as never);
  const sensitive = new Set(schemaLeaves().filter(({ leaf }) => leaf.sensitive === true).map(({ path }) => path));
  try {
    conf.validate({ allowed: 'strict' });
  } catch (err) {
    const env = options.env ?? process.env;
    const rawValue = (key: string): string => {
      const fromEnv = env[envName(key)];
      if (fromEnv !== undefined) return `${JSON.stringify(fromEnv)} (from ${envName(key)})`;
      const fromFile = lookup(given, key);
      return JSON.stringify(fromFile !== undefined ? fromFile : lookup(conf.getProperties(), key));
    };
    throw new ConfigError(explain((err as Error).message, rawValue, sensitive));
  }
  return {
    config: conf.getProperties() as ConntrailConfig,
    printable: () => conf.toString(),
  };
}
