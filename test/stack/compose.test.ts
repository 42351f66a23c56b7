/**
 * docker-compose.yml cannot run on the CI machine (no Docker engine), so this
 * checks what it says: the four services, loopback-only ports that match the
 * endpoints the rest of conntrail uses by default, KRaft settings, the
 * registry's Confluent-compatible settings, and the collector's config file.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { parse } from 'yaml';
import { LOCAL_BROKERS, LOCAL_REGISTRY_URL } from '../../producer/local-stack.ts';

// The endpoints conntrail uses when none are configured (those of stack/stack.sh).
const KAFKA_BOOTSTRAP = LOCAL_BROKERS.join(',');
const REGISTRY_URL = LOCAL_REGISTRY_URL;

const root = fileURLToPath(new URL('../../', import.meta.url));

interface Service {
  image?: string;
  ports?: string[];
  environment?: Record<string, string | number | boolean>;
  volumes?: string[];
  command?: string[];
  depends_on?: Record<string, unknown> | string[];
}
interface Compose {
  services: Record<string, Service>;
}

const compose = parse(readFileSync(`${root}docker-compose.yml`, 'utf8')) as Compose;

function service(name: string): Service {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
}

function env(name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(service(name).environment ?? {}).map(([k, v]) => [k, String(v)]));
}

test('has the four services with pinned images', (t) => {
  t.deepEqual(Object.keys(compose.services).sort(), ['kafka', 'kafka-ui', 'otel-collector', 'registry']);
  t.regex(service('kafka').image ?? '', /^apache\/kafka:4\.\d+\.\d+$/);
  t.regex(service('registry').image ?? '', /^apicurio\/apicurio-registry:3\.\d+\.\d+$/);
  t.regex(service('otel-collector').image ?? '', /^otel\/opentelemetry-collector(-contrib)?:\d+\.\d+\.\d+$/);
  t.regex(service('kafka-ui').image ?? '', /kafka-ui:v?\d+\.\d+\.\d+$/);
});

test('every port is published on 127.0.0.1 only', (t) => {
  const all = Object.entries(compose.services).flatMap(([name, s]) => (s.ports ?? []).map((p) => [name, p] as const));
  t.true(all.length >= 5);
  for (const [name, p] of all) t.true(String(p).startsWith('127.0.0.1:'), `${name}: ${p}`);
  t.deepEqual(service('kafka').ports, ['127.0.0.1:9092:9092']);
  t.deepEqual(service('registry').ports, ['127.0.0.1:8081:8080']);
  t.deepEqual(service('otel-collector').ports, ['127.0.0.1:4317:4317', '127.0.0.1:4318:4318']);
  t.deepEqual(service('kafka-ui').ports, ['127.0.0.1:8080:8080']);
});

test('the published ports are the default endpoints', (t) => {
  const [kafkaHost, kafkaPort] = (service('kafka').ports?.[0] ?? '').split(':');
  t.is(`${kafkaHost}:${kafkaPort}`, KAFKA_BOOTSTRAP);
  t.true(env('kafka').KAFKA_ADVERTISED_LISTENERS?.split(',').some((l) => l.endsWith(`://${KAFKA_BOOTSTRAP}`)));
  const [regHost, regPort] = (service('registry').ports?.[0] ?? '').split(':');
  t.is(`http://${regHost}:${regPort}/apis/ccompat/v7`, REGISTRY_URL);
});

test('kafka is a single KRaft node (broker + controller), no ZooKeeper', (t) => {
  const e = env('kafka');
  t.is(e.KAFKA_PROCESS_ROLES, 'broker,controller');
  t.is(e.KAFKA_NODE_ID, '1');
  t.is(e.KAFKA_CONTROLLER_LISTENER_NAMES, 'CONTROLLER');
  t.regex(e.KAFKA_CONTROLLER_QUORUM_VOTERS ?? e.KAFKA_CONTROLLER_QUORUM_BOOTSTRAP_SERVERS ?? '', /9093/);
  t.regex(e.KAFKA_LISTENERS ?? '', /CONTROLLER:\/\/[^,]*:9093/);
  t.regex(e.CLUSTER_ID ?? '', /^[A-Za-z0-9_-]{22}$/, 'CLUSTER_ID is a 16-byte base64 uuid');
  for (const k of ['KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR', 'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR', 'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR']) {
    t.is(e[k], '1', k);
  }
  t.false(Object.keys(e).some((k) => k.includes('ZOOKEEPER')));
  t.false('zookeeper' in compose.services);
});

test('registry: Confluent-compatible ids and a default BACKWARD rule', (t) => {
  const e = env('registry');
  t.is(e.APICURIO_CCOMPAT_LEGACY_ID_MODE_ENABLED, 'true');
  t.is(e.APICURIO_RULES_GLOBAL_COMPATIBILITY, 'BACKWARD');
});

test('kafka-ui reaches kafka and the registry inside the compose network', (t) => {
  const e = env('kafka-ui');
  t.is(e.KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS, 'kafka:29092');
  t.true(env('kafka').KAFKA_ADVERTISED_LISTENERS?.includes('kafka:29092'));
  t.is(e.KAFKA_CLUSTERS_0_SCHEMAREGISTRY, 'http://registry:8080/apis/ccompat/v7');
});

test('otel collector: OTLP on 4317/4318 into the debug exporter', (t) => {
  const volumes = service('otel-collector').volumes ?? [];
  t.true(volumes.some((v) => v.startsWith('./config/otel-collector.yaml:')));
  const cfg = parse(readFileSync(`${root}config/otel-collector.yaml`, 'utf8')) as {
    receivers: { otlp: { protocols: { grpc: { endpoint: string }; http: { endpoint: string } } } };
    exporters: Record<string, unknown>;
    service: { pipelines: Record<string, { receivers: string[]; exporters: string[] }> };
  };
  t.regex(cfg.receivers.otlp.protocols.grpc.endpoint, /:4317$/);
  t.regex(cfg.receivers.otlp.protocols.http.endpoint, /:4318$/);
  t.true('debug' in cfg.exporters);
  for (const kind of ['traces', 'metrics', 'logs']) {
    t.deepEqual(cfg.service.pipelines[kind]?.receivers, ['otlp'], kind);
    t.deepEqual(cfg.service.pipelines[kind]?.exporters, ['debug'], kind);
  }
});
