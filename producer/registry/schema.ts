// The NetTCPConnect schema in the registry: subject names, resolving the writer
// schema and its id at startup (auto-register or latest), and the library side
// of `conntrail schema register|check|list`.
//
// Startup (resolveWriterSchema), per registry.mode:
//   auto-register  register the bundled schema under the subject (the registry
//                  answers with the existing id when it is already there; it
//                  refuses with 409 when the subject's compatibility rule forbids
//                  it -> SchemaIncompatibleError with the registry's reason).
//   latest         take the latest version under the subject. When it is the
//                  bundled schema (same canonical form) use it. Otherwise use it as
//                  the WRITER schema when it can encode conntrail's records (every
//                  field it has that conntrail lacks has a default, types agree —
//                  checked by encoding sample records) and reads what the bundled
//                  schema writes (avsc resolver); else SchemaIncompatibleError.
// Either way the id is resolved once per process (cached) and records are then
// encoded synchronously by AvroEncoder (producer/encode, which asks this module
// for the schema: the registry side knows nothing of encoding). The registry calls for register and
// latest go through @kafkajs/confluent-schema-registry; versions, subject config
// and the verbose compatibility check use the REST API directly (RegistryRest).
import { createHash } from 'node:crypto';
import avsc from 'avsc';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { COMPATIBILITY } from '@kafkajs/confluent-schema-registry';
import type { ConntrailConfig } from '../config/load.ts';
import { LOCAL_REGISTRY_URL } from '../local-stack.ts';
import { avroType, loadBundledSchema, loadStatusSchema, RECORD_FULL_NAME } from '../model/avro-schema.ts';
import type { BundledSchema } from '../model/avro-schema.ts';
import { sampleRecord, sampleStatus, sparseRecord } from '../model/sample.ts';
import { silentLogger } from '../log.ts';
import type { LoggerLike } from '../log.ts';
import { RegistryError, RegistryUnavailableError, SchemaIncompatibleError, SubjectNotFoundError } from './errors.ts';
import { RegistryRest, isUnavailable } from './rest.ts';

export type RegistrySection = ConntrailConfig['registry'];
export const SUBJECT_STRATEGIES = ['topic', 'record', 'topic-record'] as const;
export type SubjectStrategy = (typeof SUBJECT_STRATEGIES)[number];
export const SCHEMA_MODES = ['auto-register', 'latest'] as const;
export type SchemaMode = (typeof SCHEMA_MODES)[number];

/** A bundled record schema and example records it must be able to encode (checked against a registered writer). */
export interface RecordSchema {
  bundled(): BundledSchema;
  samples(): unknown[];
}
export const NET_TCP_CONNECT_SCHEMA: RecordSchema = { bundled: loadBundledSchema, samples: () => [sampleRecord(), sparseRecord()] };
export const AGENT_STATUS_SCHEMA: RecordSchema = { bundled: loadStatusSchema, samples: () => [sampleStatus(), sampleStatus(true)] };

/** What the registry functions need: the registry section, the topic (for the subject) and the record's schema (default NetTCPConnect). */
export interface SchemaTarget {
  registry: RegistrySection;
  topic: string;
  record?: RecordSchema;
}

function recordOf(target: SchemaTarget): RecordSchema {
  return target.record ?? NET_TCP_CONNECT_SCHEMA;
}

/** registry.url, or the local stack's registry when it is empty. */
export function registryUrl(r: Pick<RegistrySection, 'url'>): string {
  return r.url || LOCAL_REGISTRY_URL;
}

/**
 * Subject for the record value: topic = "<topic>-value" (TopicNameStrategy),
 * record = "io.conntrail.NetTCPConnect" (RecordNameStrategy),
 * topic-record = "<topic>-io.conntrail.NetTCPConnect" (TopicRecordNameStrategy).
 */
export function subjectName(strategy: SubjectStrategy, topic: string, recordName = RECORD_FULL_NAME): string {
  switch (strategy) {
    case 'topic': return `${topic}-value`;
    case 'record': return recordName;
    case 'topic-record': return `${topic}-${recordName}`;
    default: throw new RegistryError(`registry.subjectStrategy: unknown ${JSON.stringify(strategy)}`);
  }
}

export function subjectOf(target: SchemaTarget): string {
  return subjectName(target.registry.subjectStrategy, target.topic, recordOf(target).bundled().fullName);
}

export function restClient(r: RegistrySection, timeoutMs?: number): RegistryRest {
  return new RegistryRest({ url: registryUrl(r), username: r.username, password: r.password, ...(timeoutMs ? { timeoutMs } : {}) });
}

export function kafkajsRegistryClient(r: RegistrySection): SchemaRegistry {
  return new SchemaRegistry({
    host: registryUrl(r),
    clientId: 'conntrail',
    ...(r.username ? { auth: { username: r.username, password: r.password } } : {}),
    retry: { retries: 2 },
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until the registry answers (GET /subjects), retrying with backoff for
 * up to retryMs (registry.startupRetryMs; 0 = one try). Throws
 * RegistryUnavailableError then. Errors other than "no answer / 5xx" (e.g. 401)
 * are thrown at once.
 */
export async function waitForRegistry(rest: RegistryRest, retryMs: number, logger: LoggerLike = silentLogger): Promise<void> {
  const t0 = Date.now();
  let delay = 250;
  for (let attempt = 1; ; attempt++) {
    try {
      await rest.subjects();
      if (attempt > 1) logger.info({ url: rest.url, waitedMs: Date.now() - t0 }, 'schema registry reachable');
      return;
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      const waited = Date.now() - t0;
      if (waited >= retryMs) throw new RegistryUnavailableError(rest.url, waited, err);
      if (attempt === 1) logger.warn({ url: rest.url, err: (err as Error).message, retryForMs: retryMs }, 'schema registry unreachable: retrying');
      await sleep(Math.min(delay, retryMs - waited));
      delay = Math.min(delay * 2, 5000);
    }
  }
}

/** The writer schema conntrail encodes with, and its registry id. */
export interface ResolvedSchema {
  subject: string;
  id: number;
  /** Version under the subject (null when the registry did not say). */
  version: number | null;
  mode: SchemaMode;
  /** Writer schema text and avsc type. */
  text: string;
  type: avsc.Type;
  /** True when the writer is the bundled schema (canonical form). */
  bundled: boolean;
  url: string;
}

const cache = new Map<string, Promise<ResolvedSchema>>();
/** Forgets the per-process schema id cache (tests). */
export function clearSchemaCache(): void {
  cache.clear();
}

export interface ResolveOptions {
  logger?: LoggerLike;
  /** Default: a client for target.registry. */
  client?: SchemaRegistry;
}

/**
 * The writer schema and id for this process, per registry.mode (see the top of
 * this file). Waits for the registry up to registry.startupRetryMs. Cached per
 * process by registry URL, subject, mode and bundled schema.
 */
export function resolveWriterSchema(target: SchemaTarget, options: ResolveOptions = {}): Promise<ResolvedSchema> {
  const bundled = recordOf(target).bundled();
  const subject = subjectOf(target);
  const mode = target.registry.mode;
  const key = [registryUrl(target.registry), subject, mode, createHash('sha256').update(bundled.text).digest('hex')].join('|');
  let p = cache.get(key);
  if (!p) {
    p = doResolve(target, subject, mode, options);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

async function doResolve(target: SchemaTarget, subject: string, mode: SchemaMode, options: ResolveOptions): Promise<ResolvedSchema> {
  const logger = options.logger ?? silentLogger;
  const rest = restClient(target.registry);
  await waitForRegistry(rest, target.registry.startupRetryMs, logger);
  const client = options.client ?? kafkajsRegistryClient(target.registry);
  const record = recordOf(target);
  const bundled = record.bundled();
  const url = rest.url;
  if (mode === 'auto-register') {
    const { id, version } = await registerWithClient(rest, client, subject, bundled.text, bundled.fullName);
    logger.info({ subject, id, version, url }, 'schema registered (auto-register)');
    return { subject, id, version, mode, text: bundled.text, type: bundled.type, bundled: true, url };
  }
  if (mode !== 'latest') throw new RegistryError(`registry.mode: unknown ${JSON.stringify(mode)}`);
  let id: number;
  try {
    id = await client.getLatestSchemaId(subject);
  } catch (err) {
    if ((err as { status?: number }).status === 404) throw new SubjectNotFoundError(subject, url);
    throw wrapClientError(err, `latest schema of ${subject}`);
  }
  const latest = await rest.version(subject, 'latest');
  const text = latest?.schema ?? await rest.schemaById(id);
  const version = latest?.id === id ? latest.version : null;
  const registered = avroType(text);
  if (registered.equals(bundled.type)) {
    logger.info({ subject, id, version, url }, 'using the latest registered schema (same as the bundled one)');
    return { subject, id, version, mode, text, type: registered, bundled: true, url };
  }
  const problems = writerProblems(registered, bundled.type, record.samples());
  if (problems.length > 0) {
    throw new SchemaIncompatibleError(subject, await rest.versions(subject), problems, {
      what: `the latest registered schema (version ${version ?? '?'}, id ${id}) cannot carry conntrail's records`,
    });
  }
  logger.warn({ subject, id, version, url }, 'latest registered schema differs from the bundled one but can carry its records: writing with the registered schema');
  return { subject, id, version, mode, text, type: registered, bundled: false, url };
}

/** Why `registered` cannot be used as the writer for conntrail's records ([] = it can); `samples`: records it must encode. */
export function writerProblems(registered: avsc.Type, bundled: avsc.Type, samples: unknown[] = NET_TCP_CONNECT_SCHEMA.samples()): string[] {
  const problems: string[] = [];
  try {
    registered.createResolver(bundled);
  } catch (err) {
    problems.push(`it cannot read what the bundled schema writes: ${(err as Error).message}`);
  }
  for (const r of samples) {
    try {
      registered.toBuffer(r);
    } catch (err) {
      problems.push(`it cannot encode a conntrail record: ${(err as Error).message}`);
      break;
    }
  }
  return problems;
}

function wrapClientError(err: unknown, what: string): Error {
  if (err instanceof RegistryError) return err;
  const status = (err as { status?: number }).status;
  const message = (err as Error)?.message ?? String(err);
  return new RegistryError(`registry: ${what}: ${message}`, { ...(status ? { status } : {}), cause: err });
}

/**
 * Registers through @kafkajs/confluent-schema-registry without letting it
 * change the subject's compatibility (it compares the subject's level with the
 * one it is given: we give it the subject's own).
 */
async function registerWithClient(rest: RegistryRest, client: SchemaRegistry, subject: string, text: string, fullName: string): Promise<{ id: number; version: number | null }> {
  const level = (await rest.subjectCompatibility(subject)) ?? 'BACKWARD';
  let id: number;
  try {
    ({ id } = await client.register({ type: SchemaType.AVRO, schema: text }, { subject, compatibility: level as COMPATIBILITY, updateConfig: false }));
  } catch (err) {
    if ((err as { status?: number }).status === 409) {
      const message = ((err as Error).message ?? '').replace(/^conntrail - /, '').replace(/^[\w.$]+Exception: /, '');
      throw new SchemaIncompatibleError(subject, await rest.versions(subject), [message], { compatibility: level, status: 409, what: `the registry refused schema ${fullName} as incompatible` });
    }
    throw wrapClientError(err, `register under ${subject}`);
  }
  const found = await rest.lookup(subject, text).catch(() => null);
  return { id, version: found?.version ?? null };
}

// ---------------------------------------------------------------- conntrail schema register|check|list

export interface RegisterResult {
  subject: string;
  id: number;
  version: number | null;
  /** True when this call added a version (false: the schema was already registered). */
  created: boolean;
  url: string;
}

/**
 * `conntrail schema register`: registers the bundled schema (or `schemaText`)
 * under the subject. Throws SchemaIncompatibleError with the registry's reason
 * when the subject's rule refuses it.
 */
export async function registerSchema(target: SchemaTarget, options: { logger?: LoggerLike; schemaText?: string; client?: SchemaRegistry } = {}): Promise<RegisterResult> {
  const rest = restClient(target.registry);
  await waitForRegistry(rest, target.registry.startupRetryMs, options.logger);
  const subject = subjectOf(target);
  const text = options.schemaText ?? recordOf(target).bundled().text;
  const before = await rest.lookup(subject, text).catch(() => null);
  const { id, version } = await registerWithClient(rest, options.client ?? kafkajsRegistryClient(target.registry), subject, text, recordOf(target).bundled().fullName);
  return { subject, id, version, created: before === null, url: rest.url };
}

export interface CheckResult {
  subject: string;
  url: string;
  /** Compatibility level applied (the subject's own, else the global one). */
  compatibility: string | null;
  versions: number[];
  /** Version under which exactly this schema is already registered, if any. */
  registeredAs: { version: number; id: number } | null;
  compatible: boolean;
  /** Why not: the registry's messages, else computed locally with avsc (prefixed "avsc:"). */
  reasons: string[];
}

/**
 * `conntrail schema check`: is the bundled schema (or `schemaText`) compatible
 * with what the subject holds? Uses POST /compatibility/.../latest?verbose=true;
 * when the registry gives no reasons (Apicurio), they are computed locally per
 * the compatibility level. A subject with no versions is compatible.
 */
export async function checkSchema(target: SchemaTarget, options: { logger?: LoggerLike; schemaText?: string } = {}): Promise<CheckResult> {
  const rest = restClient(target.registry);
  await waitForRegistry(rest, target.registry.startupRetryMs, options.logger);
  const subject = subjectOf(target);
  const text = options.schemaText ?? recordOf(target).bundled().text;
  const versions = await rest.versions(subject);
  const compatibility = (await rest.subjectCompatibility(subject)) ?? (await rest.globalCompatibility().catch(() => null));
  const found = versions.length > 0 ? await rest.lookup(subject, text) : null;
  const registeredAs = found ? { version: found.version, id: found.id } : null;
  if (versions.length === 0) return { subject, url: rest.url, compatibility, versions, registeredAs, compatible: true, reasons: [] };
  const answer = await rest.testCompatibility(subject, text);
  let reasons = answer.messages;
  if (!answer.isCompatible && reasons.length === 0) reasons = await localReasons(rest, subject, versions, text, compatibility);
  return { subject, url: rest.url, compatibility, versions, registeredAs, compatible: answer.isCompatible, reasons: answer.isCompatible ? [] : reasons };
}

/** Throws SchemaIncompatibleError when checkSchema says incompatible. */
export function assertCompatible(result: CheckResult): void {
  if (!result.compatible) {
    throw new SchemaIncompatibleError(result.subject, result.versions, result.reasons, result.compatibility ? { compatibility: result.compatibility } : {});
  }
}

async function localReasons(rest: RegistryRest, subject: string, versions: number[], text: string, level: string | null): Promise<string[]> {
  const mode = (level ?? 'BACKWARD').toUpperCase();
  const candidate = avroType(text);
  const against = mode.endsWith('_TRANSITIVE') ? versions : versions.slice(-1);
  const reasons: string[] = [];
  for (const v of against) {
    const sv = await rest.version(subject, v);
    if (!sv) continue;
    const old = avroType(sv.schema);
    const tryResolve = (reader: avsc.Type, writer: avsc.Type, what: string): void => {
      try {
        reader.createResolver(writer);
      } catch (err) {
        reasons.push(`avsc: version ${v}: ${what}: ${(err as Error).message}`);
      }
    };
    if (mode.startsWith('BACKWARD') || mode.startsWith('FULL')) tryResolve(candidate, old, 'the new schema cannot read data written with it');
    if (mode.startsWith('FORWARD') || mode.startsWith('FULL')) tryResolve(old, candidate, 'it cannot read data written with the new schema');
  }
  if (reasons.length === 0) reasons.push(`the registry refused it under ${mode} without giving a reason`);
  return reasons;
}

export interface ListedVersion {
  version: number;
  id: number;
  /** Top-level field names of that version. */
  fields: string[];
  /** True when it is the bundled schema (canonical form). */
  bundled: boolean;
}

export interface ListResult {
  subject: string;
  url: string;
  compatibility: string | null;
  versions: ListedVersion[];
}

/** `conntrail schema list`: the versions under the subject, oldest first. */
export async function listSchemaVersions(target: SchemaTarget, options: { logger?: LoggerLike } = {}): Promise<ListResult> {
  const rest = restClient(target.registry);
  await waitForRegistry(rest, target.registry.startupRetryMs, options.logger);
  const subject = subjectOf(target);
  const bundled = recordOf(target).bundled().type;
  const out: ListedVersion[] = [];
  for (const v of await rest.versions(subject)) {
    const sv = await rest.version(subject, v);
    if (!sv) continue;
    let fields: string[] = [];
    let same = false;
    try {
      const parsed = JSON.parse(sv.schema) as { fields?: { name: string }[] };
      fields = (parsed.fields ?? []).map((f) => f.name);
      same = avroType(parsed).equals(bundled);
    } catch { /* not Avro: leave empty */ }
    out.push({ version: sv.version, id: sv.id, fields, bundled: same });
  }
  const compatibility = (await rest.subjectCompatibility(subject)) ?? (await rest.globalCompatibility().catch(() => null));
  return { subject, url: rest.url, compatibility, versions: out };
}
