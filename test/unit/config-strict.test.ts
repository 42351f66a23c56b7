// Strict config (issue 14, item 5): every malformed config, from the file or
// the environment, is one ConfigError line naming the key, the value as given
// and what is expected; the CLI prints it as one stderr line and exits 2.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ENCODINGS } from '../../producer/encode/types.ts';
import { LOG_LEVELS } from '../../producer/log.ts';
import { ConfigError, loadConfig, schemaLeaves } from '../../producer/config/load.ts';
import { formatSpec } from '../../producer/config/formats.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-config-strict-'));
let files = 0;
function writeConfig(body: unknown): string {
  const file = path.join(tmp, `c${++files}.json`);
  fs.writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body));
  return file;
}

const BOOL = 'expected true or false (in the environment: true, false, 1 or 0)';
const whole = (min: number, max: number): string => `expected a whole number from ${min} to ${max}`;
const LIST_ENV = ' (in the environment: comma-separated or a JSON list)';
const BROKERS = `expected a list of "host:port" (a host name or IPv4 address, a port from 1 to 65535), e.g. ["127.0.0.1:9092"]${LIST_ENV}`;
const PORTS = `expected a list of ports from 1 to 65535, e.g. [22, 443]${LIST_ENV}`;
const CIDRS = `expected a list of CIDRs such as "10.0.0.0/8" or "fd00::/8"${LIST_ENV}`;
const PROBES = `expected a non-empty list of probes from ["lsm","fentry","kprobe","cgroup","tracepoint"]${LIST_ENV}`;
const PORT_OR_OFF = 'expected a whole number from 1 to 65535, or 0 (off)';
const RING = 'expected a power of two from 4096 to 1073741824 (bytes)';
const TOPIC = 'expected a Kafka topic name: 1-249 of [A-Za-z0-9._-], not "." or ".."';
const URL_OR_EMPTY = 'expected an http:// or https:// URL, or empty';
const NAME = 'expected a non-empty string of at most 255 characters, no control characters';
const IDEMPOTENT_ACKS = 'expected -1 while kafka.idempotent is true (the idempotent producer needs every in-sync replica\'s ack); set kafka.acks to -1 or kafka.idempotent to false';
const IDEMPOTENT_RETRIES = 'expected at least 1 while kafka.idempotent is true (the idempotent producer must be allowed to retry a send); set kafka.retry.retries to 1 or more or kafka.idempotent to false';
const UNKNOWN = 'not a conntrail setting; `conntrail config --reference` lists them';
const section = (name: string): string => `expected an object (the ${name} section)`;
const fromEnv = (value: string, variable: string): string => `${JSON.stringify(value)} (from ${variable})`;

interface BadCase {
  /** The config file's content (JSON), if any. */
  file?: unknown;
  /** CONNTRAIL_* variables. */
  env?: Record<string, string>;
  key: string;
  /** The value as the message shows it. */
  value: string;
  /** What the message says is expected. */
  expected: string;
  /** The error is about a key the schema does not have. */
  unknown?: true;
}

const cases: Record<string, BadCase> = {
  // ---- booleans: JSON true/false in a file; true/false/1/0 in the environment
  'boolean "no" in a file (convict read it as true: TLS on)': { file: { kafka: { ssl: { enabled: 'no' } } }, key: 'kafka.ssl.enabled', value: '"no"', expected: BOOL },
  'boolean "false" as a string in a file': { file: { kafka: { idempotent: 'false' } }, key: 'kafka.idempotent', value: '"false"', expected: BOOL },
  'boolean 0 in a file': { file: { capture: { dns: { enabled: 0 } } }, key: 'capture.dns.enabled', value: '0', expected: BOOL },
  'boolean "maybe" in a file': { file: { telemetry: { enabled: 'maybe' } }, key: 'telemetry.enabled', value: '"maybe"', expected: BOOL },
  'boolean null in a file': { file: { kafka: { createTopic: null } }, key: 'kafka.createTopic', value: 'null', expected: BOOL },
  'boolean [] in a file': { file: { telemetry: { kafkajsInstrumentation: [] } }, key: 'telemetry.kafkajsInstrumentation', value: '[]', expected: BOOL },
  'boolean 1 in a file': { file: { kafka: { ssl: { rejectUnauthorized: 1 } } }, key: 'kafka.ssl.rejectUnauthorized', value: '1', expected: BOOL },
  'boolean "no" in the environment': { env: { CONNTRAIL_KAFKA_SSL_ENABLED: 'no' }, key: 'kafka.ssl.enabled', value: fromEnv('no', 'CONNTRAIL_KAFKA_SSL_ENABLED'), expected: BOOL },
  'boolean "maybe" in the environment': { env: { CONNTRAIL_CAPTURE_DNS_ENABLED: 'maybe' }, key: 'capture.dns.enabled', value: fromEnv('maybe', 'CONNTRAIL_CAPTURE_DNS_ENABLED'), expected: BOOL },
  'boolean "yes" in the environment': { env: { CONNTRAIL_TELEMETRY_ENABLED: 'yes' }, key: 'telemetry.enabled', value: fromEnv('yes', 'CONNTRAIL_TELEMETRY_ENABLED'), expected: BOOL },
  'boolean "TRUE" in the environment': { env: { CONNTRAIL_KAFKA_IDEMPOTENT: 'TRUE' }, key: 'kafka.idempotent', value: fromEnv('TRUE', 'CONNTRAIL_KAFKA_IDEMPOTENT'), expected: BOOL },
  'boolean empty in the environment': { env: { CONNTRAIL_KAFKA_CREATE_TOPIC: '' }, key: 'kafka.createTopic', value: fromEnv('', 'CONNTRAIL_KAFKA_CREATE_TOPIC'), expected: BOOL },

  // ---- numbers: ranges the code honours
  'queue.maxRecords 1e12 (crashed allocating the slots)': { file: { queue: { maxRecords: 1e12 } }, key: 'queue.maxRecords', value: '1000000000000', expected: whole(1, 10_000_000) },
  'capture.dns.payloadCap 1e8 (the loader threw later)': { file: { capture: { dns: { payloadCap: 1e8 } } }, key: 'capture.dns.payloadCap', value: '100000000', expected: whole(1, 4096) },
  'capture.dns.payloadCap 4097': { file: { capture: { dns: { payloadCap: 4097 } } }, key: 'capture.dns.payloadCap', value: '4097', expected: whole(1, 4096) },
  'capture.pollIntervalMs 1e12 (became 1 ms)': { file: { capture: { pollIntervalMs: 1e12 } }, key: 'capture.pollIntervalMs', value: '1000000000000', expected: whole(1, 60_000) },
  'kafka.batch.lingerMs 1e15 (timer overflow warnings)': { file: { kafka: { batch: { lingerMs: 1e15 } } }, key: 'kafka.batch.lingerMs', value: '1000000000000000', expected: whole(0, 900_000) },
  'capture.ringBufferBytes 2^40 (passed the 32-bit power-of-two test)': { file: { capture: { ringBufferBytes: 2 ** 40 } }, key: 'capture.ringBufferBytes', value: '1099511627776', expected: RING },
  'capture.ringBufferBytes not a power of two': { file: { capture: { ringBufferBytes: 12288 } }, key: 'capture.ringBufferBytes', value: '12288', expected: RING },
  'capture.ringBufferBytes under a page': { file: { capture: { ringBufferBytes: 2048 } }, key: 'capture.ringBufferBytes', value: '2048', expected: RING },
  'queue.maxRecords 0': { file: { queue: { maxRecords: 0 } }, key: 'queue.maxRecords', value: '0', expected: whole(1, 10_000_000) },
  'queue.maxRecords 1.5': { file: { queue: { maxRecords: 1.5 } }, key: 'queue.maxRecords', value: '1.5', expected: whole(1, 10_000_000) },
  'a number as a string in a file': { file: { queue: { maxRecords: '10' } }, key: 'queue.maxRecords', value: '"10"', expected: whole(1, 10_000_000) },
  'a boolean for a number': { file: { queue: { maxBytes: true } }, key: 'queue.maxBytes', value: 'true', expected: whole(1, 2 ** 34) },
  'queue.maxBytes over 16 GiB': { file: { queue: { maxBytes: 2 ** 35 } }, key: 'queue.maxBytes', value: '34359738368', expected: whole(1, 2 ** 34) },
  'kafka.batch.maxRecords -1': { file: { kafka: { batch: { maxRecords: -1 } } }, key: 'kafka.batch.maxRecords', value: '-1', expected: whole(1, 1_000_000) },
  'kafka.batch.maxBytes 2e9': { file: { kafka: { batch: { maxBytes: 2e9 } } }, key: 'kafka.batch.maxBytes', value: '2000000000', expected: whole(1, 1_000_000_000) },
  'kafka.batch.maxInFlight 0': { file: { kafka: { batch: { maxInFlight: 0 } } }, key: 'kafka.batch.maxInFlight', value: '0', expected: whole(1, 1000) },
  'enrich.dnsCache.maxNames 2^21': { file: { enrich: { dnsCache: { maxNames: 2 ** 21 } } }, key: 'enrich.dnsCache.maxNames', value: '2097152', expected: whole(1, 2 ** 20) },
  'enrich.dnsCache.maxAddresses 0': { file: { enrich: { dnsCache: { maxAddresses: 0 } } }, key: 'enrich.dnsCache.maxAddresses', value: '0', expected: whole(1, 2 ** 20) },
  'enrich.dnsCache.maxTtlSeconds 0': { file: { enrich: { dnsCache: { maxTtlSeconds: 0 } } }, key: 'enrich.dnsCache.maxTtlSeconds', value: '0', expected: whole(1, 2 ** 31 - 1) },
  'enrich.processCache.maxEntries 1e9': { file: { enrich: { processCache: { maxEntries: 1e9 } } }, key: 'enrich.processCache.maxEntries', value: '1000000000', expected: whole(1, 2 ** 20) },
  'registry.startupRetryMs -5': { file: { registry: { startupRetryMs: -5 } }, key: 'registry.startupRetryMs', value: '-5', expected: whole(0, 3_600_000) },
  'kafka.topicPartitions 0': { file: { kafka: { topicPartitions: 0 } }, key: 'kafka.topicPartitions', value: '0', expected: whole(1, 2 ** 31 - 1) },
  'kafka.topicReplicationFactor 0': { file: { kafka: { topicReplicationFactor: 0 } }, key: 'kafka.topicReplicationFactor', value: '0', expected: 'expected a whole number from 1 to 32767, or -1 (the broker default)' },
  'kafka.topicReplicationFactor 40000 (int16)': { file: { kafka: { topicReplicationFactor: 40000 } }, key: 'kafka.topicReplicationFactor', value: '40000', expected: 'expected a whole number from 1 to 32767, or -1 (the broker default)' },
  'kafka.acks 2': { file: { kafka: { acks: 2 } }, key: 'kafka.acks', value: '2', expected: 'expected one of -1, 0, 1' },
  'kafka.acks "all"': { file: { kafka: { acks: 'all' } }, key: 'kafka.acks', value: '"all"', expected: 'expected one of -1, 0, 1' },
  'kafka.requestTimeoutMs 1e6': { file: { kafka: { requestTimeoutMs: 1e6 } }, key: 'kafka.requestTimeoutMs', value: '1000000', expected: whole(1, 900_000) },
  'kafka.retry.retries 1e6': { file: { kafka: { retry: { retries: 1e6 } } }, key: 'kafka.retry.retries', value: '1000000', expected: whole(0, 1000) },
  'kafka.retry.maxRetryTimeMs 1e9': { file: { kafka: { retry: { maxRetryTimeMs: 1e9 } } }, key: 'kafka.retry.maxRetryTimeMs', value: '1000000000', expected: whole(1, 300_000) },
  'shutdown.flushTimeoutMs 1e10': { file: { shutdown: { flushTimeoutMs: 1e10 } }, key: 'shutdown.flushTimeoutMs', value: '10000000000', expected: whole(0, 3_600_000) },
  'log.statsIntervalSec 1e7': { file: { log: { statsIntervalSec: 1e7 } }, key: 'log.statsIntervalSec', value: '10000000', expected: whole(0, 86_400) },
  'telemetry.sampleRatio 1.5': { file: { telemetry: { sampleRatio: 1.5 } }, key: 'telemetry.sampleRatio', value: '1.5', expected: 'expected a number from 0 to 1' },
  'telemetry.maxTracedEventsPerSecond 0': { file: { telemetry: { maxTracedEventsPerSecond: 0 } }, key: 'telemetry.maxTracedEventsPerSecond', value: '0', expected: whole(1, 100_000) },
  'telemetry.prometheusPort 65536': { file: { telemetry: { prometheusPort: 65536 } }, key: 'telemetry.prometheusPort', value: '65536', expected: PORT_OR_OFF },
  'telemetry.prometheusPort -1': { file: { telemetry: { prometheusPort: -1 } }, key: 'telemetry.prometheusPort', value: '-1', expected: PORT_OR_OFF },
  'a number in exponent notation in the environment': { env: { CONNTRAIL_QUEUE_MAX_RECORDS: '1e12' }, key: 'queue.maxRecords', value: fromEnv('1e12', 'CONNTRAIL_QUEUE_MAX_RECORDS'), expected: whole(1, 10_000_000) },
  'a number with a unit in the environment': { env: { CONNTRAIL_CAPTURE_POLL_INTERVAL_MS: '10ms' }, key: 'capture.pollIntervalMs', value: fromEnv('10ms', 'CONNTRAIL_CAPTURE_POLL_INTERVAL_MS'), expected: whole(1, 60_000) },
  'a negative number in the environment': { env: { CONNTRAIL_KAFKA_BATCH_LINGER_MS: '-1' }, key: 'kafka.batch.lingerMs', value: fromEnv('-1', 'CONNTRAIL_KAFKA_BATCH_LINGER_MS'), expected: whole(0, 900_000) },
  'a port over 65535 in the environment': { env: { CONNTRAIL_TELEMETRY_PROMETHEUS_PORT: '99999' }, key: 'telemetry.prometheusPort', value: fromEnv('99999', 'CONNTRAIL_TELEMETRY_PROMETHEUS_PORT'), expected: PORT_OR_OFF },
  'acks "all" in the environment': { env: { CONNTRAIL_KAFKA_ACKS: 'all' }, key: 'kafka.acks', value: fromEnv('all', 'CONNTRAIL_KAFKA_ACKS'), expected: 'expected one of -1, 0, 1' },
  'acks "1x" in the environment (parseFloat read 1)': { env: { CONNTRAIL_KAFKA_ACKS: '1x' }, key: 'kafka.acks', value: fromEnv('1x', 'CONNTRAIL_KAFKA_ACKS'), expected: 'expected one of -1, 0, 1' },
  'a ratio as a word in the environment': { env: { CONNTRAIL_TELEMETRY_SAMPLE_RATIO: 'half' }, key: 'telemetry.sampleRatio', value: fromEnv('half', 'CONNTRAIL_TELEMETRY_SAMPLE_RATIO'), expected: 'expected a number from 0 to 1' },
  'a hex number in the environment': { env: { CONNTRAIL_CAPTURE_RING_BUFFER_BYTES: '0x1000' }, key: 'capture.ringBufferBytes', value: fromEnv('0x1000', 'CONNTRAIL_CAPTURE_RING_BUFFER_BYTES'), expected: RING },
  'an empty number in the environment': { env: { CONNTRAIL_KAFKA_TOPIC_REPLICATION_FACTOR: '' }, key: 'kafka.topicReplicationFactor', value: fromEnv('', 'CONNTRAIL_KAFKA_TOPIC_REPLICATION_FACTOR'), expected: 'expected a whole number from 1 to 32767, or -1 (the broker default)' },

  // ---- lists, brokers, ports
  'broker port 99999': { file: { kafka: { brokers: ['a:99999'] } }, key: 'kafka.brokers', value: '["a:99999"]', expected: BROKERS },
  'broker port 0': { file: { kafka: { brokers: ['kafka-1:9092', 'kafka-2:0'] } }, key: 'kafka.brokers', value: '["kafka-1:9092","kafka-2:0"]', expected: BROKERS },
  'broker without a port': { file: { kafka: { brokers: ['kafka-1'] } }, key: 'kafka.brokers', value: '["kafka-1"]', expected: BROKERS },
  'broker as an IPv6 literal (kafkajs splits at ":")': { file: { kafka: { brokers: ['[::1]:9092'] } }, key: 'kafka.brokers', value: '["[::1]:9092"]', expected: BROKERS },
  'broker host with a space': { file: { kafka: { brokers: ['bad host:9092'] } }, key: 'kafka.brokers', value: '["bad host:9092"]', expected: BROKERS },
  'broker host with a bad label': { file: { kafka: { brokers: ['-kafka.example:9092'] } }, key: 'kafka.brokers', value: '["-kafka.example:9092"]', expected: BROKERS },
  'brokers as a string in a file': { file: { kafka: { brokers: 'a:9092' } }, key: 'kafka.brokers', value: '"a:9092"', expected: BROKERS },
  'brokers: a malformed JSON list in the environment (threw from JSON.parse)': { env: { CONNTRAIL_KAFKA_BROKERS: '["a:1",' }, key: 'kafka.brokers', value: fromEnv('["a:1",', 'CONNTRAIL_KAFKA_BROKERS'), expected: BROKERS },
  'brokers: a bad port in a comma list in the environment': { env: { CONNTRAIL_KAFKA_BROKERS: 'a:1,b:99999' }, key: 'kafka.brokers', value: fromEnv('a:1,b:99999', 'CONNTRAIL_KAFKA_BROKERS'), expected: BROKERS },
  'brokers: a JSON object in the environment': { env: { CONNTRAIL_KAFKA_BROKERS: '{"a":1}' }, key: 'kafka.brokers', value: fromEnv('{"a":1}', 'CONNTRAIL_KAFKA_BROKERS'), expected: BROKERS },
  'excluded port 0': { file: { capture: { exclude: { ports: [0] } } }, key: 'capture.exclude.ports', value: '[0]', expected: PORTS },
  'excluded port 65536': { file: { capture: { exclude: { ports: [22, 65536] } } }, key: 'capture.exclude.ports', value: '[22,65536]', expected: PORTS },
  'excluded port as a string in a file list': { file: { capture: { exclude: { ports: ['22'] } } }, key: 'capture.exclude.ports', value: '["22"]', expected: PORTS },
  'excluded port as a name in the environment': { env: { CONNTRAIL_CAPTURE_EXCLUDE_PORTS: '22,http' }, key: 'capture.exclude.ports', value: fromEnv('22,http', 'CONNTRAIL_CAPTURE_EXCLUDE_PORTS'), expected: PORTS },
  'excluded ports: a malformed JSON list in the environment': { env: { CONNTRAIL_CAPTURE_EXCLUDE_PORTS: '[22,' }, key: 'capture.exclude.ports', value: fromEnv('[22,', 'CONNTRAIL_CAPTURE_EXCLUDE_PORTS'), expected: PORTS },
  'a CIDR with /33': { file: { capture: { exclude: { cidrs: ['10.0.0.0/33'] } } }, key: 'capture.exclude.cidrs', value: '["10.0.0.0/33"]', expected: CIDRS },
  'an empty ladder': { file: { capture: { ladder: [] } }, key: 'capture.ladder', value: '[]', expected: PROBES },
  'an unknown probe': { file: { capture: { ladder: ['lsm', 'ebpf'] } }, key: 'capture.ladder', value: '["lsm","ebpf"]', expected: PROBES },
  'an empty probe in the environment': { env: { CONNTRAIL_CAPTURE_LADDER: 'lsm,,fentry' }, key: 'capture.ladder', value: fromEnv('lsm,,fentry', 'CONNTRAIL_CAPTURE_LADDER'), expected: PROBES },

  // ---- text
  'a topic with a space': { file: { kafka: { topic: 'bad topic' } }, key: 'kafka.topic', value: '"bad topic"', expected: TOPIC },
  'the topic ".."': { file: { kafka: { topic: '..' } }, key: 'kafka.topic', value: '".."', expected: TOPIC },
  'a number for a topic': { file: { kafka: { topic: 5 } }, key: 'kafka.topic', value: '5', expected: TOPIC },
  'a registry URL that is not http': { file: { registry: { url: 'ftp://registry.example' } }, key: 'registry.url', value: '"ftp://registry.example"', expected: URL_OR_EMPTY },
  'a registry URL that is no URL': { env: { CONNTRAIL_REGISTRY_URL: 'registry:8081' }, key: 'registry.url', value: fromEnv('registry:8081', 'CONNTRAIL_REGISTRY_URL'), expected: URL_OR_EMPTY },
  'an OTLP endpoint without a scheme': { file: { telemetry: { otlpEndpoint: '127.0.0.1:4318' } }, key: 'telemetry.otlpEndpoint', value: '"127.0.0.1:4318"', expected: URL_OR_EMPTY },
  'a Prometheus host that is no address': { file: { telemetry: { prometheusHost: 'not a host!' } }, key: 'telemetry.prometheusHost', value: '"not a host!"', expected: 'expected an IPv4 or IPv6 address or a host name, e.g. "127.0.0.1" or "::1"' },
  'a relative cgroup path': { file: { capture: { cgroupPath: 'sys/fs/cgroup' } }, key: 'capture.cgroupPath', value: '"sys/fs/cgroup"', expected: 'expected an absolute path (starting with /), or empty' },
  'an empty host name': { file: { host: { name: '' } }, key: 'host.name', value: '""', expected: NAME },
  'a client id with a newline': { env: { CONNTRAIL_KAFKA_CLIENT_ID: 'a\nb' }, key: 'kafka.clientId', value: fromEnv('a\nb', 'CONNTRAIL_KAFKA_CLIENT_ID'), expected: NAME },
  'an unknown encoding': { file: { encoding: { format: 'json' } }, key: 'encoding.format', value: '"json"', expected: `expected one of ${JSON.stringify(ENCODINGS)}` },
  'an unknown log level in the environment': { env: { CONNTRAIL_LOG_LEVEL: 'loud' }, key: 'log.level', value: fromEnv('loud', 'CONNTRAIL_LOG_LEVEL'), expected: `expected one of ${JSON.stringify(LOG_LEVELS)}` },
  'an unknown SASL mechanism': { file: { kafka: { sasl: { mechanism: 'gssapi' } } }, key: 'kafka.sasl.mechanism', value: '"gssapi"', expected: 'expected one of ["none","plain","scram-sha-256","scram-sha-512"]' },
  'a number for a password is masked': { file: { registry: { username: 'u', password: 12345 } }, key: 'registry.password', value: '"[masked]"', expected: 'expected a string' },

  // ---- sections: named once, with the value
  'a number for the kafka section': { file: { kafka: 5 }, key: 'kafka', value: '5', expected: section('kafka') },
  'a list for the capture section': { file: { capture: [] }, key: 'capture', value: '[]', expected: section('capture') },
  'a string for the kafka.batch section': { file: { kafka: { batch: 'big' } }, key: 'kafka.batch', value: '"big"', expected: section('kafka.batch') },
  'null for the enrich.dnsCache section': { file: { enrich: { dnsCache: null } }, key: 'enrich.dnsCache', value: 'null', expected: section('enrich.dnsCache') },
  'true for the telemetry section': { file: { telemetry: true }, key: 'telemetry', value: 'true', expected: section('telemetry') },
  'an object for a number': { file: { kafka: { batch: { lingerMs: { ms: 5 } } } }, key: 'kafka.batch.lingerMs', value: '{"ms":5}', expected: whole(0, 900_000) },

  // ---- unknown keys: a typo is named
  'a typo in a key': { file: { kafka: { brokerz: ['a:1'] } }, key: 'kafka.brokerz', value: '["a:1"]', expected: UNKNOWN, unknown: true },
  'a key in the wrong case': { file: { queue: { maxrecords: 10 } }, key: 'queue.maxrecords', value: '10', expected: UNKNOWN, unknown: true },
  'a key under a key': { file: { log: { level: 'info', levels: { kafka: 'debug' } } }, key: 'log.levels.kafka', value: '"debug"', expected: UNKNOWN, unknown: true },

  // ---- rules between keys, checked before anything starts
  'acks 1 with the idempotent producer (the default)': { file: { kafka: { acks: 1 } }, key: 'kafka.acks', value: '1', expected: IDEMPOTENT_ACKS },
  'acks 0 from the environment with the idempotent producer': { env: { CONNTRAIL_KAFKA_ACKS: '0' }, key: 'kafka.acks', value: fromEnv('0', 'CONNTRAIL_KAFKA_ACKS'), expected: IDEMPOTENT_ACKS },
  'maxInFlight 5 with the idempotent producer': { file: { kafka: { batch: { maxInFlight: 5 } } }, key: 'kafka.batch.maxInFlight', value: '5', expected: 'expected 1 while kafka.idempotent is true (the idempotent producer sends one batch at a time); set kafka.idempotent to false for more' },
  'no retries with the idempotent producer (kafkajs threw at startup, exit 70)': { file: { kafka: { retry: { retries: 0 } } }, key: 'kafka.retry.retries', value: '0', expected: IDEMPOTENT_RETRIES },
  'no retries from the environment with kafka.idempotent true': { file: { kafka: { idempotent: true } }, env: { CONNTRAIL_KAFKA_RETRY_RETRIES: '0' }, key: 'kafka.retry.retries', value: fromEnv('0', 'CONNTRAIL_KAFKA_RETRY_RETRIES'), expected: IDEMPOTENT_RETRIES },
  'first retry delay over the longest': { file: { kafka: { retry: { initialRetryTimeMs: 5000, maxRetryTimeMs: 1000 } } }, key: 'kafka.retry.initialRetryTimeMs', value: '5000', expected: 'expected at most kafka.retry.maxRetryTimeMs (1000)' },
  'a SASL mechanism without a user name': { file: { kafka: { sasl: { mechanism: 'plain', password: 'p' } } }, key: 'kafka.sasl.username', value: '""', expected: 'expected a user name: kafka.sasl.mechanism is "plain"' },
  'a SASL mechanism without a password': { env: { CONNTRAIL_KAFKA_SASL_MECHANISM: 'scram-sha-512', CONNTRAIL_KAFKA_SASL_USERNAME: 'u' }, key: 'kafka.sasl.password', value: '""', expected: 'expected a password (e.g. in CONNTRAIL_KAFKA_SASL_PASSWORD): kafka.sasl.mechanism is "scram-sha-512"' },
  'a CA file with TLS off': { file: { kafka: { ssl: { caFile: '/etc/conntrail/ca.pem' } } }, key: 'kafka.ssl.caFile', value: '"/etc/conntrail/ca.pem"', expected: 'expected empty while kafka.ssl.enabled is false: it would not be used' },
  'TLS off from the environment, a client key in the file': { file: { kafka: { ssl: { enabled: true, certFile: '/c.pem', keyFile: '/k.pem' } } }, env: { CONNTRAIL_KAFKA_SSL_ENABLED: '0' }, key: 'kafka.ssl.certFile', value: '"/c.pem"', expected: 'expected empty while kafka.ssl.enabled is false: it would not be used' },
  'a client certificate without its key': { file: { kafka: { ssl: { enabled: true, certFile: '/c.pem' } } }, key: 'kafka.ssl.keyFile', value: '""', expected: 'expected the private key of kafka.ssl.certFile (a client certificate needs its key)' },
  'a client key without its certificate': { file: { kafka: { ssl: { enabled: true, keyFile: '/k.pem' } } }, key: 'kafka.ssl.certFile', value: '""', expected: 'expected the client certificate of kafka.ssl.keyFile (a private key needs its certificate)' },
  'status records on the records\' topic': { file: { kafka: { topic: 'conn' }, agent: { statusTopic: 'conn' } }, key: 'agent.statusTopic', value: '"conn"', expected: 'expected a topic other than kafka.topic ("conn"): status records have their own schema' },
  'a heartbeat interval over a day': { env: { CONNTRAIL_AGENT_HEARTBEAT_SEC: '86401' }, key: 'agent.heartbeatSec', value: '"86401" (from CONNTRAIL_AGENT_HEARTBEAT_SEC)', expected: 'expected a whole number from 0 to 86400' },
  'a spool smaller than two segments': { file: { spool: { maxBytes: 1 << 20, segmentBytes: 1 << 20 } }, key: 'spool.maxBytes', value: '1048576', expected: 'expected at least twice spool.segmentBytes (2097152)' },
  'a relative spool directory': { env: { CONNTRAIL_SPOOL_DIRECTORY: 'spool' }, key: 'spool.directory', value: fromEnv('spool', 'CONNTRAIL_SPOOL_DIRECTORY'), expected: 'expected an absolute path (starting with /), or empty' },
  'an fsync policy that is not one': { file: { spool: { fsync: 'sometimes' } }, key: 'spool.fsync', value: '"sometimes"', expected: 'expected one of ["never","interval","always"]' },
  'a registry password without a user': { env: { CONNTRAIL_REGISTRY_PASSWORD: 'swordfish' }, key: 'registry.password', value: '"[masked]" (from CONNTRAIL_REGISTRY_PASSWORD)', expected: 'expected empty while registry.username is empty (no basic auth): it would not be used' },
};

function load(c: { file?: unknown; env?: Record<string, string> }): ReturnType<typeof loadConfig> {
  return loadConfig({ ...(c.file !== undefined ? { file: writeConfig(c.file) } : {}), env: c.env ?? {} });
}

const messageOf = (c: BadCase): string => c.unknown
  ? `unknown config key "${c.key}" (value ${c.value}): ${c.expected}`
  : `${c.key} = ${c.value}: ${c.expected}`;

test('at least 50 malformed configs, from files and from the environment', (t) => {
  const all = Object.values(cases);
  t.true(all.length >= 50, `${all.length} cases`);
  t.true(all.filter((c) => c.env).length >= 20);
  t.true(all.filter((c) => c.file !== undefined && !c.env).length >= 30);
});

for (const [name, c] of Object.entries(cases)) {
  test(`bad config: ${name}`, (t) => {
    const err = t.throws(() => load(c), { instanceOf: ConfigError });
    t.is(err?.message, messageOf(c));
    t.false(err?.message.includes('\n'), 'one line');
  });
}

test('secrets stay masked in every error', (t) => {
  const err = t.throws(() => load({ env: { CONNTRAIL_REGISTRY_PASSWORD: 'swordfish' } }), { instanceOf: ConfigError });
  t.false(err?.message.includes('swordfish'));
  const err2 = t.throws(() => load({ file: { kafka: { sasl: { password: 'hunter2' } }, queue: { maxRecords: 0 } } }), { instanceOf: ConfigError });
  t.false(err2?.message.includes('hunter2'));
});

test('several errors: the first, and how many more with their keys, on one line', (t) => {
  const err = t.throws(() => load({ file: { queue: { maxRecords: 0, maxBytes: 0 }, kafka: { topic: '' } } }), { instanceOf: ConfigError });
  t.is(err?.message, `kafka.topic = "": ${TOPIC} (and 2 more: queue.maxRecords, queue.maxBytes)`);
});

test('a misspelt section is named once per key under it, on one line', (t) => {
  const err = t.throws(() => load({ file: { kafak: { brokers: ['a:1'], topic: 't' } } }), { instanceOf: ConfigError });
  t.is(err?.message, `unknown config key "kafak.brokers" (value ["a:1"]): ${UNKNOWN} (and 1 more: kafak.topic)`);
});

// ---- what is still accepted

const valid: Record<string, { file?: unknown; env?: Record<string, string>; check?: (c: ReturnType<typeof loadConfig>['config']) => boolean }> = {
  'booleans 1/0 and true/false in the environment': {
    env: { CONNTRAIL_KAFKA_SSL_ENABLED: '1', CONNTRAIL_CAPTURE_DNS_ENABLED: '0', CONNTRAIL_TELEMETRY_ENABLED: 'false', CONNTRAIL_KAFKA_CREATE_TOPIC: 'true' },
    check: (c) => c.kafka.ssl.enabled && !c.capture.dns.enabled && !c.telemetry.enabled && c.kafka.createTopic,
  },
  'each bound itself': {
    file: {
      capture: { ringBufferBytes: 2 ** 30, pollIntervalMs: 60_000, dns: { payloadCap: 4096 } },
      queue: { maxRecords: 10_000_000, maxBytes: 2 ** 34 },
      kafka: { batch: { lingerMs: 900_000, maxRecords: 1_000_000, maxBytes: 1_000_000_000 }, topicReplicationFactor: 32767, topicPartitions: 2 ** 31 - 1 },
      enrich: { dnsCache: { maxNames: 2 ** 20, maxAddresses: 2 ** 20, maxTtlSeconds: 2 ** 31 - 1 }, processCache: { maxEntries: 2 ** 20 } },
      shutdown: { flushTimeoutMs: 0 },
      log: { statsIntervalSec: 86_400 },
      telemetry: { prometheusPort: 0, sampleRatio: 1 },
    },
    check: (c) => c.capture.ringBufferBytes === 2 ** 30 && c.telemetry.prometheusPort === 0,
  },
  'lists as comma text or JSON in the environment': {
    env: { CONNTRAIL_KAFKA_BROKERS: '["kafka-1.example.internal:9093", "10.0.0.2:9093"]', CONNTRAIL_CAPTURE_EXCLUDE_PORTS: ' 22 , 443', CONNTRAIL_CAPTURE_LADDER: 'fentry,kprobe' },
    check: (c) => c.kafka.brokers.length === 2 && c.capture.exclude.ports[1] === 443 && c.capture.ladder[0] === 'fentry',
  },
  'broker host names with underscores and a trailing dot': { file: { kafka: { brokers: ['kafka_1:9092', 'kafka.example.:9092'] } } },
  'numbers as digits in the environment': {
    env: { CONNTRAIL_KAFKA_ACKS: '-1', CONNTRAIL_TELEMETRY_SAMPLE_RATIO: '.5', CONNTRAIL_KAFKA_TOPIC_REPLICATION_FACTOR: '-1', CONNTRAIL_QUEUE_MAX_RECORDS: '1000' },
    check: (c) => c.kafka.acks === -1 && c.telemetry.sampleRatio === 0.5 && c.queue.maxRecords === 1000,
  },
  'acks 1 and more in flight without idempotence': { file: { kafka: { idempotent: false, acks: 1, batch: { maxInFlight: 5 } } } },
  'no retries without idempotence': { file: { kafka: { idempotent: false, retry: { retries: 0 } } }, check: (c) => c.kafka.retry.retries === 0 },
  'SASL and mutual TLS complete': {
    file: { kafka: { ssl: { enabled: true, caFile: 'ca.pem', certFile: '/c.pem', keyFile: '/k.pem' }, sasl: { mechanism: 'scram-sha-256', username: 'u' } } },
    env: { CONNTRAIL_KAFKA_SASL_PASSWORD: 'p' },
  },
  'SASL credentials from the environment with mechanism none (a deployment may inject the secret)': { env: { CONNTRAIL_KAFKA_SASL_PASSWORD: 'p' } },
  'an IPv6 Prometheus address and an https registry': { file: { telemetry: { prometheusHost: '::1' }, registry: { url: 'https://registry.example:8081/apis/ccompat/v7', username: 'u', password: 'p' } } },
};

for (const [name, c] of Object.entries(valid)) {
  test(`good config: ${name}`, (t) => {
    const { config } = load(c);
    if (c.check) t.true(c.check(config));
    else t.pass();
  });
}

test('every numeric key has a range and says its upper bound in its doc string', (t) => {
  for (const { path: key, leaf } of schemaLeaves()) {
    if (typeof leaf.default !== 'number' || Array.isArray(leaf.format)) continue;
    const spec = formatSpec(leaf.format);
    t.truthy(spec, `${key} has a named format`);
    if (spec?.name === 'ratio' || spec?.expected.startsWith('one of')) continue;
    const max = /to (\d+)/.exec(spec?.expected ?? '')?.[1];
    if (max === undefined) {
      t.fail(`${key}: no upper bound in "${spec?.expected}"`);
      continue;
    }
    t.true(Number(max) <= 2 ** 34, `${key}: ${max}`);
    t.true(String(leaf.doc).includes(max), `${key}'s doc string says ${max}`);
  }
});

test('capture.dns.payloadCap stops where a kernel record does (CT_DNS_MAX_CAP)', (t) => {
  const header = fs.readFileSync('bpf/src/conntrail.h', 'utf8');
  const cap = /#define CT_DNS_MAX_CAP (\d+)/.exec(header)?.[1];
  t.truthy(cap);
  t.notThrows(() => load({ file: { capture: { dns: { payloadCap: Number(cap) } } } }));
  t.throws(() => load({ file: { capture: { dns: { payloadCap: Number(cap) + 1 } } } }), { instanceOf: ConfigError, message: new RegExp(`^capture\\.dns\\.payloadCap = ${Number(cap) + 1}: expected a whole number from 1 to ${cap}$`) });
});

test('a number JSON cannot hold is shown as what it became', (t) => {
  const err = t.throws(() => load({ file: '{"queue": {"maxRecords": 1e400}}' }), { instanceOf: ConfigError });
  t.is(err?.message, `queue.maxRecords = Infinity: ${whole(1, 10_000_000)}`);
});

test('every boolean key takes only true/false', (t) => {
  const booleans = schemaLeaves().filter(({ leaf }) => typeof leaf.default === 'boolean');
  t.true(booleans.length >= 7);
  for (const { path: key, leaf } of booleans) t.is(leaf.format, 'boolean', key);
});

// ---- the real command line

const cliEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CONNTRAIL_')));

function conntrailConfig(file: string, env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['producer/cli.ts', 'config', '--config', file], { encoding: 'utf8', env: { ...cliEnv, ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

for (const name of [
  'boolean "no" in a file (convict read it as true: TLS on)',
  'boolean "maybe" in the environment',
  'queue.maxRecords 1e12 (crashed allocating the slots)',
  'broker port 99999',
  'brokers: a malformed JSON list in the environment (threw from JSON.parse)',
  'a number for the kafka section',
  'a typo in a key',
  'acks 1 with the idempotent producer (the default)',
  'no retries with the idempotent producer (kafkajs threw at startup, exit 70)',
] as const) {
  const c = cases[name] as BadCase;
  test(`conntrail config: ${name}: exit 2, one line on stderr`, (t) => {
    const r = conntrailConfig(writeConfig(c.file ?? {}), c.env);
    t.is(r.code, 2);
    t.is(r.stderr, `conntrail: bad config: ${messageOf(c)}\n`);
    t.is(r.stdout, '');
  });
}

test('conntrail config: a good file and environment print the effective config', (t) => {
  const r = conntrailConfig(writeConfig({ kafka: { brokers: ['kafka-1:9092'] } }), { CONNTRAIL_KAFKA_SSL_ENABLED: '1' });
  t.is(r.code, 0, r.stderr);
  const printed = JSON.parse(r.stdout) as { kafka: { brokers: string[]; ssl: { enabled: boolean } } };
  t.deepEqual(printed.kafka.brokers, ['kafka-1:9092']);
  t.true(printed.kafka.ssl.enabled);
});
