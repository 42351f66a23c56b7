// A small client for the Confluent Schema Registry REST API (also served by
// Apicurio at /apis/ccompat/v7), with node:http(s). It covers what the
// @kafkajs/confluent-schema-registry client does not expose: versions, subject
// config and the verbose compatibility check.
//
// Not fetch(): its first call loads undici (and through it tls, zlib,
// worker_threads...), ~15 MiB of RSS kept for the life of an agent that asks
// the registry once at startup. node:http(s) are required, not imported: an
// ESM import of node:http builds its ESM facade, which reads every export,
// among them the lazy ones (WebSocket...) that load undici too.
import { createRequire } from 'node:module';
import type { IncomingMessage, RequestOptions } from 'node:http';
import { RegistryError } from './errors.ts';

const require = createRequire(import.meta.url);
const transports = {
  'http:': require('node:http') as typeof import('node:http'),
  'https:': require('node:https') as typeof import('node:https'),
};

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export interface RegistryRestOptions {
  /** Base URL, e.g. http://127.0.0.1:8081/apis/ccompat/v7 (no trailing slash needed). */
  url: string;
  /** Basic auth (registry.username / registry.password); empty user: none. */
  username?: string;
  password?: string;
  /** Per-request timeout, ms. Default 10000. */
  timeoutMs?: number;
}

export interface SubjectVersion {
  subject: string;
  version: number;
  id: number;
  /** Schema text as registered. */
  schema: string;
  schemaType?: string;
}

export interface CompatibilityAnswer {
  isCompatible: boolean;
  /** Reasons the registry gave (Confluent with verbose=true); Apicurio gives none. */
  messages: string[];
}

/** Error from the transport (no HTTP answer) — what the startup retry waits out. */
export class RegistryConnectError extends RegistryError {
  override name = 'RegistryConnectError';
}

export class RegistryRest {
  readonly url: string;
  readonly #auth: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: RegistryRestOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.#auth = options.username ? 'Basic ' + Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64') : undefined;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** GET /subjects. Also the reachability probe. */
  subjects(): Promise<string[]> {
    return this.#call('GET', '/subjects') as Promise<string[]>;
  }

  /** GET /subjects/{s}/versions; [] when the subject does not exist. */
  async versions(subject: string): Promise<number[]> {
    try {
      return (await this.#call('GET', `/subjects/${enc(subject)}/versions`)) as number[];
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
  }

  /** GET /subjects/{s}/versions/{v} (v = number or "latest"); null when absent. */
  async version(subject: string, version: number | 'latest'): Promise<SubjectVersion | null> {
    try {
      return (await this.#call('GET', `/subjects/${enc(subject)}/versions/${version}`)) as SubjectVersion;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** POST /subjects/{s}/versions: registers (or finds) the schema; returns its id. 409 = incompatible. */
  async register(subject: string, schema: string): Promise<{ id: number }> {
    return (await this.#call('POST', `/subjects/${enc(subject)}/versions`, { schema })) as { id: number };
  }

  /** POST /subjects/{s}: is this exact schema registered under the subject? null when not. */
  async lookup(subject: string, schema: string): Promise<SubjectVersion | null> {
    try {
      return (await this.#call('POST', `/subjects/${enc(subject)}`, { schema })) as SubjectVersion;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** POST /compatibility/subjects/{s}/versions/{v}?verbose=true. */
  async testCompatibility(subject: string, schema: string, version: number | 'latest' = 'latest'): Promise<CompatibilityAnswer> {
    const res = (await this.#call('POST', `/compatibility/subjects/${enc(subject)}/versions/${version}?verbose=true`, { schema })) as
      { is_compatible?: boolean; messages?: unknown };
    const messages = Array.isArray(res.messages) ? res.messages.map(String) : [];
    return { isCompatible: res.is_compatible === true, messages };
  }

  /** GET /config/{s}: the subject's compatibility level, or null when it has none of its own. */
  async subjectCompatibility(subject: string): Promise<string | null> {
    try {
      const res = (await this.#call('GET', `/config/${enc(subject)}`)) as { compatibilityLevel?: string; compatibility?: string };
      return (res.compatibilityLevel ?? res.compatibility ?? null)?.toUpperCase() ?? null;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** GET /config: the global compatibility level. */
  async globalCompatibility(): Promise<string | null> {
    const res = (await this.#call('GET', '/config')) as { compatibilityLevel?: string; compatibility?: string };
    return (res.compatibilityLevel ?? res.compatibility ?? null)?.toUpperCase() ?? null;
  }

  /** PUT /config/{s}. */
  async setSubjectCompatibility(subject: string, level: string): Promise<void> {
    await this.#call('PUT', `/config/${enc(subject)}`, { compatibility: level });
  }

  /** GET /schemas/ids/{id}: the schema text. */
  async schemaById(id: number): Promise<string> {
    const res = (await this.#call('GET', `/schemas/ids/${id}`)) as { schema: string };
    return res.schema;
  }

  /** DELETE /subjects/{s} (soft), then ?permanent=true when `permanent`. For tests and cleanup. */
  async deleteSubject(subject: string, permanent = false): Promise<void> {
    await this.#call('DELETE', `/subjects/${enc(subject)}`).catch((err: unknown) => { if (!isNotFound(err)) throw err; });
    if (permanent) await this.#call('DELETE', `/subjects/${enc(subject)}?permanent=true`).catch((err: unknown) => { if (!isNotFound(err)) throw err; });
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { Accept: `${CONTENT_TYPE}, application/json` };
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) headers['Content-Type'] = CONTENT_TYPE;
    if (this.#auth) headers.Authorization = this.#auth;
    let status: number;
    let text: string;
    try {
      ({ status, text } = await this.#request(method, this.url + path, headers, payload));
    } catch (err) {
      const why = (err as { code?: string }).code ?? (err as Error).message;
      throw new RegistryConnectError(`${method} ${this.url}${path}: ${why}`, { cause: err });
    }
    let json: unknown;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (status < 200 || status > 299) {
      const { message, error_code: errorCode } = (json ?? {}) as { message?: string; error_code?: number };
      throw new RegistryError(`registry ${method} ${path}: HTTP ${status}${message ? `: ${message}` : text ? `: ${text.slice(0, 200)}` : ''}`,
        { status, ...(typeof errorCode === 'number' ? { errorCode } : {}) });
    }
    if (json === undefined) throw new RegistryError(`registry ${method} ${path}: answer is not JSON: ${text.slice(0, 200)}`, { status });
    return json;
  }

  /** One request, the whole answer read; rejects on a transport error or after timeoutMs (TimeoutError) for all of it. */
  #request(method: string, url: string, headers: Record<string, string>, payload: string | undefined): Promise<{ status: number; text: string }> {
    const target = new URL(url);
    const transport = transports[target.protocol as keyof typeof transports];
    if (!transport) return Promise.reject(new Error(`unsupported protocol ${target.protocol}`));
    if (payload !== undefined) headers['Content-Length'] = String(Buffer.byteLength(payload));
    const options: RequestOptions = { method, headers, signal: AbortSignal.timeout(this.#timeoutMs) };
    return new Promise((resolve, reject) => {
      const req = transport.request(target, options, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', (err: Error) => reject(err.name === 'AbortError' && err.cause instanceof Error ? err.cause : err));
      req.end(payload);
    });
  }
}

const enc = encodeURIComponent;

export function isNotFound(err: unknown): boolean {
  return err instanceof RegistryError && err.status === 404;
}

/** Worth retrying at startup: no answer, or a 5xx / 408 / 429. */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof RegistryConnectError) return true;
  return err instanceof RegistryError && err.status !== undefined && (err.status >= 500 || err.status === 408 || err.status === 429);
}
