// The one definition of conntrail's configuration: every key, its default,
// what it accepts and why it exists. `conntrail config --schema` prints it;
// every key can also be set from the environment as CONNTRAIL_<PATH>, e.g.
// kafka.batch.lingerMs -> CONNTRAIL_KAFKA_BATCH_LINGER_MS.
import os from 'node:os';
import { DEFAULT_LADDER, PROBE_NAMES } from 'bpf-native-loader';
import { ENCODINGS } from '../encode/types.ts';
import { LOG_LEVELS } from '../log.ts';
import { SCHEMA_MODES, SUBJECT_STRATEGIES } from '../registry/schema.ts';
import { COMPRESSIONS } from '../sink/codecs.ts';
import { SASL_MECHANISMS } from '../sink/kafka-security.ts';
import { KEY_STRATEGIES } from '../sink/keys.ts';
import { QUEUE_POLICIES } from '../sink/queue.ts';
import { DNS_SCOPES } from '../transform/dns/cache.ts';

/**
 * A setting that takes one of `values` (convict refuses anything else), typed
 * as their union. Each list is owned by the module that acts on the value.
 */
function oneOf<T extends string>(values: readonly T[], defaultValue: NoInfer<T>): { format: T[]; default: T } {
  return { format: [...values], default: defaultValue };
}

export const configSchema = {
  host: {
    name: {
      doc: 'Host name written into every record (host.name). Defaults to the kernel host name.',
      format: String,
      default: os.hostname(),
    },
  },
  capture: {
    ladder: {
      doc: `Attach ladder for connect(): probes tried in order, the first that loads and attaches wins. One or more of ${PROBE_NAMES.join(', ')}. "tracepoint" reads the user copy of the address and is open to TOCTOU races.`,
      format: 'probe-list',
      default: [...DEFAULT_LADDER],
    },
    ringBufferBytes: {
      doc: 'Size of the kernel ring buffer shared by connect records and DNS replies, in bytes (a power of two, at least one page). Size it for the longest pause of the consumer: 8 MiB holds about 80k connect records, a second at 80k connects/s.',
      format: 'power-of-two',
      default: 8 * 1024 * 1024,
    },
    pollIntervalMs: {
      doc: 'How often the native consumer drains the ring buffer, in ms. Records are handed to JavaScript as one batch per poll; the kernel also wakes the consumer early when a quarter of the ring is full.',
      format: 'positive-int',
      default: 10,
    },
    cgroupPath: {
      doc: 'cgroup v2 mount to attach cgroup programs to. Empty: found from /proc/mounts.',
      format: String,
      default: '',
    },
    dns: {
      enabled: {
        doc: 'Capture DNS replies (UDP and TCP source port 53) to fill the DNS cache behind `results`.',
        format: Boolean,
        default: true,
      },
      payloadCap: {
        doc: 'Bytes of each DNS reply copied out of the kernel. Larger replies are cut and counted as truncated; 512 is the classic UDP DNS maximum.',
        format: 'positive-int',
        default: 512,
      },
    },
    exclude: {
      ports: {
        doc: 'Destination ports never captured (filtered in the kernel).',
        format: 'port-list',
        default: [] as number[],
      },
      cidrs: {
        doc: 'Destination networks never captured (filtered in the kernel), IPv4 or IPv6 CIDR, e.g. ["10.0.0.0/8", "fd00::/8"].',
        format: 'cidr-list',
        default: [] as string[],
      },
    },
  },
  enrich: {
    dnsCache: {
      maxNames: {
        doc: 'Upper bound on DNS names (questions and CNAME targets) kept in the cache; least recently used go first. 65536 covers a busy host (a browser resolves a few thousand names a day) at about 10 MB.',
        format: 'positive-int',
        default: 65536,
      },
      maxAddresses: {
        doc: 'Upper bound on addresses kept in the cache (least recently used go first).',
        format: 'positive-int',
        default: 65536,
      },
      scope: {
        doc: 'netns: a DNS reply only labels connects in the network namespace that received it (containers do not label each other). host: one cache for the whole host, as Tracee does.',
        ...oneOf(DNS_SCOPES, 'netns'),
      },
      maxTtlSeconds: {
        doc: 'TTLs longer than this are cut to it, so a name cannot stay in the cache for days.',
        format: 'positive-int',
        default: 86400,
      },
    },
    processCache: {
      maxEntries: {
        doc: 'Processes whose /proc context (ppid, executable, container id) is cached, keyed by pid and start time.',
        format: 'positive-int',
        default: 8192,
      },
    },
  },
  encoding: {
    format: {
      doc: 'Record encoding on the topic: "avro" (Confluent wire format, schema in the registry; Splunk Connect for Kafka, Logstash) or "ecs-json" (Elastic Common Schema JSON; Filebeat, Elastic Agent).',
      ...oneOf(ENCODINGS, 'avro'),
    },
  },
  registry: {
    url: {
      doc: 'Confluent-compatible schema registry URL. Empty with no brokers configured: the local stack\'s registry.',
      format: String,
      default: '',
    },
    subjectStrategy: {
      doc: 'Subject name: "topic" = <topic>-value (TopicNameStrategy), "record" = <namespace>.<name> (RecordNameStrategy), "topic-record" = <topic>-<namespace>.<name>.',
      ...oneOf(SUBJECT_STRATEGIES, 'topic'),
    },
    mode: {
      doc: '"auto-register": register the bundled schema at startup (local use). "latest": use the latest version already registered under the subject and refuse to start if the bundled schema cannot write it (production, where the registry is managed).',
      ...oneOf(SCHEMA_MODES, 'auto-register'),
    },
    username: {
      doc: 'Basic-auth user for the registry (empty: none).',
      format: String,
      default: '',
    },
    password: {
      doc: 'Basic-auth password for the registry.',
      format: String,
      default: '',
      sensitive: true,
    },
    startupRetryMs: {
      doc: 'How long to keep retrying an unreachable registry at startup before giving up with exit code 1 (0: fail at once).',
      format: 'non-negative-int',
      default: 30000,
    },
  },
  kafka: {
    brokers: {
      doc: 'Bootstrap brokers, host:port. Empty: `conntrail run` starts the local stack (stack/stack.sh) and uses 127.0.0.1:9092.',
      format: 'broker-list',
      default: [] as string[],
    },
    clientId: {
      doc: 'Kafka client id.',
      format: String,
      default: 'conntrail',
    },
    topic: {
      doc: 'Topic the NetTCPConnect records are written to.',
      format: 'topic-name',
      default: 'conntrail.net-tcp-connect',
    },
    createTopic: {
      doc: 'Create the topic at startup when it does not exist; false: a missing topic is an error.',
      format: Boolean,
      default: true,
    },
    topicPartitions: {
      doc: 'Partitions for a topic conntrail creates.',
      format: 'positive-int',
      default: 3,
    },
    topicReplicationFactor: {
      doc: 'Replication factor for a topic conntrail creates (-1: the broker default).',
      format: 'int',
      default: -1,
    },
    acks: {
      doc: 'Acknowledgements: -1 = all in-sync replicas (no loss on a leader change), 1 = leader only, 0 = none.',
      format: [-1, 0, 1],
      default: -1,
    },
    idempotent: {
      doc: 'Idempotent producer: the broker discards duplicates of batches kafkajs retries (needs acks=-1, one request in flight). On by default: without it a partial failure on a new topic was seen to duplicate records. A broker restart can still duplicate one resent request.',
      format: Boolean,
      default: true,
    },
    compression: {
      doc: 'Batch compression: none, gzip, snappy, lz4 or zstd.',
      ...oneOf(COMPRESSIONS, 'none'),
    },
    keyStrategy: {
      doc: 'Message key, which decides the partition and so what stays in order: "process" (host+pid: one process\'s connects in order), "host", "destination" (ip:port) or "none" (round robin).',
      ...oneOf(KEY_STRATEGIES, 'process'),
    },
    requestTimeoutMs: {
      doc: 'Time the broker has to answer a produce request.',
      format: 'positive-int',
      default: 30000,
    },
    retry: {
      retries: {
        doc: 'Retries of one connection or admin request (kafkajs retry.retries), and of one send by the idempotent producer. A batch is never given up for a transient error: the sink sends it again with backoff while the queue holds new records.',
        format: 'non-negative-int',
        default: 8,
      },
      initialRetryTimeMs: {
        doc: 'First retry delay; later ones back off exponentially with jitter.',
        format: 'positive-int',
        default: 300,
      },
      maxRetryTimeMs: {
        doc: 'Longest delay between two retries.',
        format: 'positive-int',
        default: 30000,
      },
    },
    batch: {
      maxRecords: {
        doc: 'Flush a batch when it holds this many records (librdkafka batches up to 10,000).',
        format: 'positive-int',
        default: 10000,
      },
      maxBytes: {
        doc: 'Flush a batch when its encoded records reach this many bytes (librdkafka: 1 MB). Keep it under the broker\'s message.max.bytes.',
        format: 'positive-int',
        default: 1000000,
      },
      lingerMs: {
        doc: 'Flush a batch at most this long after its first record arrived (librdkafka lingers 5 ms). Higher: fewer, larger requests; lower: less latency.',
        format: 'non-negative-int',
        default: 10,
      },
      maxInFlight: {
        doc: 'Batches sent and not yet acknowledged at once. 1 keeps per-key order across retries. The idempotent producer (kafka.idempotent) always uses 1.',
        format: 'positive-int',
        default: 1,
      },
    },
    ssl: {
      enabled: {
        doc: 'Connect to the brokers with TLS.',
        format: Boolean,
        default: false,
      },
      caFile: {
        doc: 'PEM file of the CA that signed the brokers\' certificates (empty: the system CAs).',
        format: String,
        default: '',
      },
      certFile: {
        doc: 'PEM client certificate for mutual TLS (empty: none).',
        format: String,
        default: '',
      },
      keyFile: {
        doc: 'PEM private key of the client certificate.',
        format: String,
        default: '',
      },
      rejectUnauthorized: {
        doc: 'Refuse brokers whose certificate does not verify. Turn off only for a test cluster.',
        format: Boolean,
        default: true,
      },
    },
    sasl: {
      mechanism: {
        doc: 'SASL mechanism: none, plain, scram-sha-256 or scram-sha-512.',
        ...oneOf(SASL_MECHANISMS, 'none'),
      },
      username: {
        doc: 'SASL user name.',
        format: String,
        default: '',
      },
      password: {
        doc: 'SASL password.',
        format: String,
        default: '',
        sensitive: true,
      },
    },
  },
  queue: {
    maxRecords: {
      doc: 'Records held between enrichment and Kafka while batches wait or Kafka is down; past this the policy applies.',
      format: 'positive-int',
      default: 200000,
    },
    maxBytes: {
      doc: 'Encoded bytes held in the queue; past this the policy applies. Bounds memory while Kafka is down.',
      format: 'positive-int',
      default: 64 * 1024 * 1024,
    },
    policy: {
      doc: 'When the queue is full: "drop-newest" keeps what is queued and counts the new record as dropped; "drop-oldest" makes room by dropping the oldest record. Either way capture keeps draining the ring buffer.',
      ...oneOf(QUEUE_POLICIES, 'drop-newest'),
    },
  },
  shutdown: {
    flushTimeoutMs: {
      doc: 'On SIGINT/SIGTERM, how long to keep flushing queued records to Kafka before detaching and exiting.',
      format: 'non-negative-int',
      default: 10000,
    },
  },
  log: {
    level: {
      doc: 'Log level (pino).',
      ...oneOf(LOG_LEVELS, 'info'),
    },
    statsIntervalSec: {
      doc: 'Every this many seconds one log line with events/s, drops by reason, queue depth, last publish and DNS cache size (0: never).',
      format: 'non-negative-int',
      default: 10,
    },
  },
  telemetry: {
    enabled: {
      doc: 'OpenTelemetry traces and metrics. Off: the SDK is not even loaded.',
      format: Boolean,
      default: true,
    },
    otlpEndpoint: {
      doc: 'OTLP/HTTP endpoint of a collector, e.g. http://127.0.0.1:4318. Empty: the standard OTEL_EXPORTER_OTLP_* variables decide, and with none set no traces are exported.',
      format: String,
      default: '',
    },
    sampleRatio: {
      doc: 'Share of events that get a per-event trace (capture -> enrich -> encode -> queue -> Kafka ack). Batch spans are always recorded.',
      format: 'ratio',
      default: 0.001,
    },
    maxTracedEventsPerSecond: {
      doc: 'Cap on per-event traces started per second, over sampleRatio: each costs about a millisecond of CPU to build and export, so the cap bounds tracing\'s cost at any event rate (20: 0.001 of 20k events/s, about 2% of one core).',
      format: 'positive-int',
      default: 20,
    },
    prometheusPort: {
      doc: 'Port of the Prometheus scrape endpoint (0: off).',
      format: 'port',
      default: 9464,
    },
    prometheusHost: {
      doc: 'Address the Prometheus endpoint listens on.',
      format: String,
      default: '127.0.0.1',
    },
    kafkajsInstrumentation: {
      doc: 'Also load @opentelemetry/instrumentation-kafkajs (one span per message: costly at high rates).',
      format: Boolean,
      default: false,
    },
  },
};
