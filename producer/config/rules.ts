// Rules between keys, checked once every key is valid on its own and before
// anything starts: a value that one key allows but another makes wrong or
// unused. Each rule names the key to change, its value and what is expected.
import type { ConntrailConfig } from './load.ts';

/** One broken rule: the key to change and what it should be. */
export interface RuleViolation {
  key: string;
  expected: string;
}

type Rule = (c: ConntrailConfig) => RuleViolation | undefined;

const rules: Rule[] = [
  // kafkajs refuses an idempotent producer with acks other than all (and the sink checks again)
  (c) => c.kafka.idempotent && c.kafka.acks !== -1
    ? { key: 'kafka.acks', expected: 'expected -1 while kafka.idempotent is true (the idempotent producer needs every in-sync replica\'s ack); set kafka.acks to -1 or kafka.idempotent to false' }
    : undefined,
  // the sink keeps one batch in flight for the idempotent producer whatever maxInFlight says
  (c) => c.kafka.idempotent && c.kafka.batch.maxInFlight !== 1
    ? { key: 'kafka.batch.maxInFlight', expected: 'expected 1 while kafka.idempotent is true (the idempotent producer sends one batch at a time); set kafka.idempotent to false for more' }
    : undefined,
  // kafkajs refuses an idempotent producer without retries (it threw at startup, after the probes attached)
  (c) => c.kafka.idempotent && c.kafka.retry.retries < 1
    ? { key: 'kafka.retry.retries', expected: 'expected at least 1 while kafka.idempotent is true (the idempotent producer must be allowed to retry a send); set kafka.retry.retries to 1 or more or kafka.idempotent to false' }
    : undefined,
  (c) => c.kafka.retry.initialRetryTimeMs > c.kafka.retry.maxRetryTimeMs
    ? { key: 'kafka.retry.initialRetryTimeMs', expected: `expected at most kafka.retry.maxRetryTimeMs (${c.kafka.retry.maxRetryTimeMs})` }
    : undefined,
  (c) => c.kafka.sasl.mechanism !== 'none' && c.kafka.sasl.username === ''
    ? { key: 'kafka.sasl.username', expected: `expected a user name: kafka.sasl.mechanism is "${c.kafka.sasl.mechanism}"` }
    : undefined,
  (c) => c.kafka.sasl.mechanism !== 'none' && c.kafka.sasl.password === ''
    ? { key: 'kafka.sasl.password', expected: `expected a password (e.g. in CONNTRAIL_KAFKA_SASL_PASSWORD): kafka.sasl.mechanism is "${c.kafka.sasl.mechanism}"` }
    : undefined,
  // (SASL credentials with mechanism "none" are allowed: a deployment may inject the secret whatever the mechanism)
  (c) => unusedWhen(!c.kafka.ssl.enabled, 'kafka.ssl.enabled is false', [
    ['kafka.ssl.caFile', c.kafka.ssl.caFile],
    ['kafka.ssl.certFile', c.kafka.ssl.certFile],
    ['kafka.ssl.keyFile', c.kafka.ssl.keyFile],
  ]),
  (c) => c.kafka.ssl.certFile !== '' && c.kafka.ssl.keyFile === ''
    ? { key: 'kafka.ssl.keyFile', expected: 'expected the private key of kafka.ssl.certFile (a client certificate needs its key)' }
    : undefined,
  (c) => c.kafka.ssl.keyFile !== '' && c.kafka.ssl.certFile === ''
    ? { key: 'kafka.ssl.certFile', expected: 'expected the client certificate of kafka.ssl.keyFile (a private key needs its certificate)' }
    : undefined,
  // status records on the records' topic would mix two schemas in one topic: consumers of either break
  (c) => c.agent.heartbeatSec > 0 && c.agent.statusTopic === c.kafka.topic
    ? { key: 'agent.statusTopic', expected: `expected a topic other than kafka.topic ("${c.kafka.topic}"): status records have their own schema` }
    : undefined,
  // drop-oldest frees a closed segment, so a full spool needs room for two
  (c) => c.spool.maxBytes < 2 * c.spool.segmentBytes
    ? { key: 'spool.maxBytes', expected: `expected at least twice spool.segmentBytes (${2 * c.spool.segmentBytes})` }
    : undefined,
  (c) => unusedWhen(c.registry.username === '', 'registry.username is empty (no basic auth)', [
    ['registry.password', c.registry.password],
  ]),
];

/** A key set where it would not be used: named, so the user does not believe it works. */
function unusedWhen(condition: boolean, because: string, keys: Array<[string, string]>): RuleViolation | undefined {
  if (!condition) return undefined;
  const set = keys.find(([, value]) => value !== '');
  return set ? { key: set[0], expected: `expected empty while ${because}: it would not be used` } : undefined;
}

/** Every rule the config breaks, in a fixed order. */
export function ruleViolations(config: ConntrailConfig): RuleViolation[] {
  return rules.map((rule) => rule(config)).filter((v): v is RuleViolation => v !== undefined);
}
