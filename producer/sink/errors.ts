// The Kafka transport's errors: what a failed send means for its batch
// (classifySendError, read from kafkajs's own errors, which carry `retriable`
// as data), and the named errors of startup (kafkajs style: a name, a message
// a user can act on; `userFacing` lets the CLI print the message without a
// stack).
import type { SendErrorKind } from './delivery.ts';

export class SinkError extends Error {
  override name = 'SinkError';
  readonly userFacing = true;
}

/** The topic does not exist and kafka.createTopic is false. */
export class TopicMissingError extends SinkError {
  override name = 'TopicMissingError';
  readonly topic: string;
  constructor(topic: string, brokers: readonly string[]) {
    super(`Kafka topic "${topic}" does not exist on ${brokers.join(',')} and kafka.createTopic is false: create it, or set kafka.createTopic=true`);
    this.topic = topic;
  }
}

/** The errors in a kafkajs error's cause chain (cause, or originalError), outermost first. */
function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e && out.length < 10 && !out.includes(e); e = (e as { cause?: unknown; originalError?: unknown }).cause ?? (e as { originalError?: unknown }).originalError) out.push(e);
  return out;
}

/** The innermost cause of a (kafkajs) error. */
function rootCause(err: unknown): unknown {
  const chain = causes(err);
  return chain.length > 0 ? chain[chain.length - 1] : err;
}

/** The error's message, with its root cause's when that says more. */
export function describeError(err: unknown): string {
  const outer = (err as Error)?.message ?? String(err);
  const root = rootCause(err);
  const inner = (root as Error)?.message;
  return root === err || !inner || outer.includes(inner) ? outer : `${outer} (cause: ${inner})`;
}

/** kafkajs protocol error types (KafkaJSProtocolError.type) for a batch the broker will never take whole. */
const MESSAGE_TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);
/** Programming errors: sending again cannot help. */
const UNRECOVERABLE = new Set(['RangeError', 'ReferenceError', 'SyntaxError', 'TypeError']);

/**
 * kafkajs protocol error types (kafkajs's names) of a partition whose leader
 * moved, is being elected, or has too few in-sync replicas for acks=all: the
 * broker answered, kafkajs refreshed the metadata, and the batch may go to a
 * new leader at the next attempt.
 */
const LEADER_MOVED = new Set([
  'NOT_LEADER_FOR_PARTITION', 'LEADER_NOT_AVAILABLE', 'FENCED_LEADER_EPOCH', 'UNKNOWN_LEADER_EPOCH',
  'NOT_ENOUGH_REPLICAS', 'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
]);
/**
 * kafkajs errors of one broker connection (refused, closed, timed out) or of a
 * leader missing from the metadata. kafkajs refreshes the metadata from another
 * broker after them; when no broker answers, its reconnects (kafka.retry.*) pace
 * the sends, so a short resend delay costs nothing.
 */
const BROKER_UNREACHABLE = new Set([
  'KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound', 'KafkaJSMetadataNotLoaded',
]);

/**
 * Transient (send the batch again), reroute (send it again soon: a leader
 * moved or a broker is unreachable, and the next attempt goes where the fresh
 * metadata says), permanent (drop it) or too-large (split it), from the root
 * cause: kafkajs marks each of its errors retriable or not, and names the
 * protocol error's type.
 */
export function classifySendError(err: unknown): SendErrorKind {
  const root = rootCause(err) as { retriable?: boolean; name?: string; type?: string } | null;
  if (root && typeof root.type === 'string' && MESSAGE_TOO_LARGE.has(root.type)) return 'too-large';
  if (root && UNRECOVERABLE.has(root.name ?? '')) return 'permanent';
  if (root && root.retriable === false) return 'permanent';
  if (root && ((typeof root.type === 'string' && LEADER_MOVED.has(root.type)) || BROKER_UNREACHABLE.has(root.name ?? ''))) return 'reroute';
  return 'transient';
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(GET|VERIFY)_)/;

/** No broker answered at startup (after kafkajs's retries), or TLS to it failed. */
export class KafkaUnavailableError extends SinkError {
  override name = 'KafkaUnavailableError';
  readonly brokers: readonly string[];
  constructor(brokers: readonly string[], cause: unknown) {
    const tls = causes(cause).some((e) => TLS_CODES.test(String((e as { code?: unknown }).code ?? '')));
    const what = tls ? `TLS to Kafka at ${brokers.join(',')} failed (check kafka.ssl.*)` : `Kafka is unreachable at ${brokers.join(',')}`;
    super(`${what}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.brokers = brokers;
  }
}

/** The brokers refused kafka.sasl.* credentials. */
export class KafkaAuthenticationError extends SinkError {
  override name = 'KafkaAuthenticationError';
  readonly brokers: readonly string[];
  constructor(brokers: readonly string[], cause: unknown) {
    super(`Kafka at ${brokers.join(',')} refused the SASL credentials (kafka.sasl.*): ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.brokers = brokers;
  }
}

/** The error to throw when connecting to `brokers` failed with `cause`. */
export function connectError(brokers: readonly string[], cause: unknown): SinkError {
  const sasl = causes(cause).some((e) => (e as { name?: unknown }).name === 'KafkaJSSASLAuthenticationError');
  return sasl ? new KafkaAuthenticationError(brokers, cause) : new KafkaUnavailableError(brokers, cause);
}

/** A TLS file named in kafka.ssl.* cannot be read. */
export class KafkaConfigError extends SinkError {
  override name = 'KafkaConfigError';
}
