// What each config key accepts: named formats, registered with convict by
// load.ts. Each format says in words what it expects (the error message and the
// "accepts" column of docs/configuration.md), checks a value, and turns the
// text of a CONNTRAIL_* environment variable into that value. A config file
// gives JSON values, which are never coerced: "no", "10" or "a:1,b:2" where a
// boolean, number or list is expected are refused as given (load.ts).
import net from 'node:net';

export interface FormatSpec {
  /** convict's format name (also how schema.ts refers to it). */
  readonly name: string;
  /** What a value must be, in words: "a whole number from 1 to 65535". */
  readonly expected: string;
  /** Does the value pass? */
  check(value: unknown): boolean;
  /** The value of an environment variable's text; text that is not one is returned as it is, and check() refuses it. */
  fromEnv?(raw: string): unknown;
}

const formats = new Map<string, FormatSpec>();

function define(spec: FormatSpec): string {
  const known = formats.get(spec.name);
  if (known && known.expected !== spec.expected) throw new Error(`config format ${spec.name} defined twice`);
  if (!known) formats.set(spec.name, spec);
  return spec.name;
}

/** The format named `name`, if it is one of these (convict's built-ins and enumerations are not). */
export function formatSpec(name: unknown): FormatSpec | undefined {
  return typeof name === 'string' ? formats.get(name) : undefined;
}

export function allFormats(): Iterable<FormatSpec> {
  return formats.values();
}

// ---------- environment text ----------

const WHOLE = /^-?\d+$/;
const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;

/** "42" -> 42; anything else (1e3, 0x10, 12abc, empty) stays text. */
function wholeFromEnv(raw: string): unknown {
  const t = raw.trim();
  return WHOLE.test(t) ? Number(t) : raw;
}

function decimalFromEnv(raw: string): unknown {
  const t = raw.trim();
  return DECIMAL.test(t) ? Number(t) : raw;
}

/** Only true/1 and false/0: convict's own Boolean reads "no" and "maybe" as true. */
function booleanFromEnv(raw: string): unknown {
  switch (raw.trim()) {
    case 'true': case '1': return true;
    case 'false': case '0': return false;
    default: return raw;
  }
}

/** A list: comma-separated text, or a JSON list. Text that is neither (a broken JSON list) stays text. */
export function listFromEnv(raw: string): unknown {
  const trimmed = raw.trim();
  if (trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch {
      return raw;
    }
  }
  return trimmed === '' ? [] : trimmed.split(',').map((s) => s.trim());
}

// ---------- value checks ----------

const isWhole = (v: unknown, min: number, max: number): v is number => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

export const isPort = (v: unknown): v is number => isWhole(v, 1, 65535);

/** A DNS host name (RFC 1123 labels; "_" allowed, as container and service names have it). */
export function isHostName(text: unknown): boolean {
  if (typeof text !== 'string' || text.length === 0 || text.length > 253) return false;
  return text.replace(/\.$/, '').split('.').every((label) => /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(label));
}

export function isCidr(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  const [addr, bits, ...rest] = text.split('/');
  if (rest.length > 0 || addr === undefined || bits === undefined || !/^\d+$/.test(bits)) return false;
  const family = net.isIP(addr);
  const max = family === 4 ? 32 : family === 6 ? 128 : -1;
  return max > 0 && Number(bits) <= max;
}

/** host:port as kafkajs reads it (it splits at ":", so no IPv6 literal): a host name or IPv4 address, a port 1-65535. */
export function isBroker(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  const m = /^([^:]+):(\d{1,5})$/.exec(text);
  return m !== null && (isHostName(m[1]) || net.isIPv4(m[1] as string)) && isPort(Number(m[2]));
}

// eslint-disable-next-line no-control-regex -- control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f]/;

function isHttpUrl(text: unknown): boolean {
  if (typeof text !== 'string' || CONTROL.test(text)) return false;
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

// ---------- formats, for schema.ts ----------

/** A setting that is on or off. */
export function flag(defaultValue: boolean): { format: string; default: boolean } {
  return {
    format: define({
      name: 'boolean',
      expected: 'true or false (in the environment: true, false, 1 or 0)',
      check: (v) => typeof v === 'boolean',
      fromEnv: booleanFromEnv,
    }),
    default: defaultValue,
  };
}

/** A whole number from min to max, or else `or.value` (outside [min, max]), which means `or.means` ("off", "the broker default"). */
export function wholeNumber(min: number, max: number, defaultValue: number, or?: { value: number; means: string }): { format: string; default: number } {
  return {
    format: define({
      name: `whole ${or ? `${or.value}|` : ''}${min}..${max}`,
      expected: `a whole number from ${min} to ${max}${or ? `, or ${or.value} (${or.means})` : ''}`,
      check: (v) => isWhole(v, min, max) || (or !== undefined && v === or.value),
      fromEnv: wholeFromEnv,
    }),
    default: defaultValue,
  };
}

/** One of a few numbers (e.g. kafka.acks). */
export function numberOneOf(values: readonly number[], defaultValue: number): { format: string; default: number } {
  return {
    format: define({
      name: `number ${values.join('|')}`,
      expected: `one of ${values.join(', ')}`,
      check: (v) => values.includes(v as number),
      fromEnv: wholeFromEnv,
    }),
    default: defaultValue,
  };
}

/** A power of two from min to max (bytes). */
export function powerOfTwo(min: number, max: number, defaultValue: number): { format: string; default: number } {
  return {
    format: define({
      name: `power-of-two ${min}..${max}`,
      expected: `a power of two from ${min} to ${max} (bytes)`,
      // no bit operations: they see only 32 bits (2^40 & (2^40 - 1) is 0)
      check: (v) => isWhole(v, min, max) && Number.isInteger(Math.log2(v)),
      fromEnv: wholeFromEnv,
    }),
    default: defaultValue,
  };
}

export function ratio(defaultValue: number): { format: string; default: number } {
  return {
    format: define({
      name: 'ratio',
      expected: 'a number from 0 to 1',
      check: (v) => typeof v === 'number' && v >= 0 && v <= 1,
      fromEnv: decimalFromEnv,
    }),
    default: defaultValue,
  };
}

/** A TCP port, 1-65535; with `zeroMeans`, 0 as well (e.g. "off"). */
export function port(defaultValue: number, zeroMeans?: string): { format: string; default: number } {
  return wholeNumber(1, 65535, defaultValue, zeroMeans === undefined ? undefined : { value: 0, means: zeroMeans });
}

/** Any text (user names, passwords). */
export function text(defaultValue: string): { format: string; default: string } {
  return { format: define({ name: 'text', expected: 'a string', check: (v) => typeof v === 'string' }), default: defaultValue };
}

/** Text that is not empty and has no control characters (names written into records and sent to brokers). */
export function name(defaultValue: string): { format: string; default: string } {
  return {
    format: define({
      name: 'name',
      expected: 'a non-empty string of at most 255 characters, no control characters',
      check: (v) => typeof v === 'string' && v.length > 0 && v.length <= 255 && !CONTROL.test(v),
    }),
    default: defaultValue,
  };
}

/** An http:// or https:// URL, or empty (the key's doc says what empty means). */
export function httpUrlOrEmpty(defaultValue: string): { format: string; default: string } {
  return {
    format: define({
      name: 'http-url-or-empty',
      expected: 'an http:// or https:// URL, or empty',
      check: (v) => v === '' || isHttpUrl(v),
    }),
    default: defaultValue,
  };
}

/** A file path, or empty. */
export function pathOrEmpty(defaultValue: string): { format: string; default: string } {
  return {
    format: define({
      name: 'path-or-empty',
      expected: 'a file path, or empty',
      check: (v) => typeof v === 'string' && !CONTROL.test(v),
    }),
    default: defaultValue,
  };
}

/** An absolute path, or empty. */
export function absolutePathOrEmpty(defaultValue: string): { format: string; default: string } {
  return {
    format: define({
      name: 'absolute-path-or-empty',
      expected: 'an absolute path (starting with /), or empty',
      check: (v) => v === '' || (typeof v === 'string' && v.startsWith('/') && !CONTROL.test(v)),
    }),
    default: defaultValue,
  };
}

/** An address to listen on: an IPv4 or IPv6 address or a host name. */
export function listenAddress(defaultValue: string): { format: string; default: string } {
  return {
    format: define({
      name: 'listen-address',
      expected: 'an IPv4 or IPv6 address or a host name, e.g. "127.0.0.1" or "::1"',
      check: (v) => typeof v === 'string' && (net.isIP(v) !== 0 || isHostName(v)),
    }),
    default: defaultValue,
  };
}

/** A Kafka topic name. */
export function topicName(defaultValue: string): { format: string; default: string } {
  return {
    format: define({
      name: 'topic-name',
      expected: 'a Kafka topic name: 1-249 of [A-Za-z0-9._-], not "." or ".."',
      check: (v) => typeof v === 'string' && /^[A-Za-z0-9._-]{1,249}$/.test(v) && v !== '.' && v !== '..',
    }),
    default: defaultValue,
  };
}

/** A list of at least `minItems` values of which each passes `item`. */
export function listOf<T>(spec: { name: string; expected: string; item(v: unknown): boolean; minItems?: number; itemFromEnv?(raw: string): unknown }, defaultValue: T[]): { format: string; default: T[] } {
  const min = spec.minItems ?? 0;
  return {
    format: define({
      name: spec.name,
      expected: `${spec.expected} (in the environment: comma-separated or a JSON list)`,
      check: (v) => Array.isArray(v) && v.length >= min && v.every((x) => spec.item(x)),
      fromEnv: (raw) => {
        const list = listFromEnv(raw);
        const itemFromEnv = spec.itemFromEnv;
        return Array.isArray(list) && itemFromEnv ? list.map((x) => (typeof x === 'string' ? itemFromEnv(x) : x)) : list;
      },
    }),
    default: defaultValue,
  };
}

export const portList = (defaultValue: number[]): { format: string; default: number[] } => listOf({
  name: 'port-list', expected: 'a list of ports from 1 to 65535, e.g. [22, 443]', item: isPort, itemFromEnv: wholeFromEnv,
}, defaultValue);

export const cidrList = (defaultValue: string[]): { format: string; default: string[] } => listOf({
  name: 'cidr-list', expected: 'a list of CIDRs such as "10.0.0.0/8" or "fd00::/8"', item: isCidr,
}, defaultValue);

export const brokerList = (defaultValue: string[]): { format: string; default: string[] } => listOf({
  name: 'broker-list',
  expected: 'a list of "host:port" (a host name or IPv4 address, a port from 1 to 65535), e.g. ["127.0.0.1:9092"]',
  item: isBroker,
}, defaultValue);
