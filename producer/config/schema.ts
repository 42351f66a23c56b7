// The one definition of conntrail's configuration: every key, its default,
// what it accepts and why it exists. `conntrail config --schema` prints it;
// every key can also be set from the environment as CONNTRAIL_<PATH>, e.g.
// kafka.batch.lingerMs -> CONNTRAIL_KAFKA_BATCH_LINGER_MS.
import os from 'node:os';
import { DEFAULT_LADDER, DEFAULT_PIN_PATH, PROBE_NAMES, type ProbeName } from 'bpf-native-loader';
import { ENCODINGS } from '../encode/types.ts';
import { LOG_LEVELS } from '../log.ts';
import { SCHEMA_MODES, SUBJECT_STRATEGIES } from '../registry/schema.ts';
import { COMPRESSIONS } from '../sink/codecs.ts';
import { SASL_MECHANISMS } from '../sink/kafka-security.ts';
import { KEY_STRATEGIES } from '../sink/keys.ts';
import { QUEUE_POLICIES } from '../sink/queue.ts';
import { FSYNC_POLICIES } from '../sink/spool/spool.ts';
import { DNS_SCOPES } from '../transform/dns/cache.ts';
import {
  absolutePathOrEmpty, brokerList, cidrList, flag, httpUrlOrEmpty, listenAddress, listOf, name, numberOneOf, pathOrEmpty,
  port, portList, powerOfTwo, ratio, text, topicName, wholeNumber,
} from './formats.ts';

// Bounds that come from outside this file, each where it is honoured.
/** Largest DNS payload a kernel record carries (CT_DNS_MAX_CAP in bpf/src/conntrail.h; the loader refuses more). */
const DNS_MAX_CAP = 4096;
// Every key in ms (or s) is bounded under Node's longest timer, 2^31-1 ms: a longer
// setTimeout fires after 1 ms with a TimeoutOverflowWarning.
/** Kafka's protocol carries partition counts as int32 and replication factors as int16. */
const KAFKA_INT32_MAX = 2 ** 31 - 1;
const KAFKA_INT16_MAX = 2 ** 15 - 1;
/** Acknowledgements a Kafka produce request can ask for. */
const KAFKA_ACKS = [-1, 0, 1] as const;

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
      ...name(os.hostname()),
    },
  },
  capture: {
    ladder: {
      doc: `Attach ladder for connect(): probes tried in order, the first that loads and attaches wins. One or more of ${PROBE_NAMES.join(', ')}. "tracepoint" reads the user copy of the address and is open to TOCTOU races.`,
      ...listOf<ProbeName>({ name: 'probe-list', expected: `a non-empty list of probes from ${JSON.stringify(PROBE_NAMES)}`, item: (p) => (PROBE_NAMES as readonly unknown[]).includes(p), minItems: 1 }, [...DEFAULT_LADDER]),
    },
    ringBufferBytes: {
      doc: 'Size of the kernel ring buffer shared by connect records and DNS replies, in bytes: a power of two from one page (4096) to 1073741824 (1 GiB; the loader hands the kernel 32 bits, and the ring is locked kernel memory). Size it for the longest pause of the consumer: 8 MiB holds about 80k connect records, a second at 80k connects/s.',
      ...powerOfTwo(4096, 2 ** 30, 8 * 1024 * 1024),
    },
    pollIntervalMs: {
      doc: 'How often the native consumer drains the ring buffer while records flow, in ms, from 1 to 60000 (the ring must hold that long\'s records). Records are handed to JavaScript as one batch per poll; the kernel also wakes the consumer early when a quarter of the ring is full.',
      ...wholeNumber(1, 60_000, 10),
    },
    cgroupPath: {
      doc: 'cgroup v2 mount to attach cgroup programs to (an absolute path). Empty: found from /proc/mounts.',
      ...absolutePathOrEmpty(''),
    },
    persist: {
      doc: `Keep capturing while no conntrail runs (a stop, SIGKILL, crash or upgrade): the BPF maps and links are pinned in bpffs at capture.pinPath, the kernel goes on filling the ring buffer, and the next conntrail run adopts the pinned capture and publishes what it holds (beyond the ring's capacity connects are counted as kernel drops). A pinned capture of another conntrail version, probe outside capture.ladder or another ring size is replaced, its unread records counted in the log. \`conntrail detach\` removes it. On in the packaged service.`,
      ...flag(false),
    },
    pinPath: {
      doc: `bpffs directory capture.persist pins in (an absolute path on bpffs; bpffs is mounted at /sys/fs/bpf when nothing did). Empty: ${DEFAULT_PIN_PATH}.`,
      ...absolutePathOrEmpty(DEFAULT_PIN_PATH),
    },
    dns: {
      enabled: {
        doc: 'Capture DNS replies (UDP and TCP source port 53) to fill the DNS cache behind `results`.',
        ...flag(true),
      },
      payloadCap: {
        doc: `Bytes of each DNS reply copied out of the kernel, from 1 to ${DNS_MAX_CAP} (the most a kernel record carries). Larger replies are cut and counted as truncated; 512 is the classic UDP DNS maximum.`,
        ...wholeNumber(1, DNS_MAX_CAP, 512),
      },
    },
    exec: {
      doc: 'Capture process starts (tracepoint sched/sched_process_exec: the path, argv up to enrich.process.maxArgBytes and the parent), so that a process which connects and exits before /proc is read (a curl of a few ms) still gets process.exe, args and its parent. Costs one ring record per exec on the host.',
      ...flag(true),
    },
    connectExitTracepoint: {
      doc: 'connect() calls that fail at once, with no handshake (no route, denied by a policy), are caught by fexit on __sys_connect where the kernel allows BPF trampolines (Debian 11, 12, 13). Where it refuses them, true catches them with the tracepoint syscalls/sys_exit_connect instead: that needs tracefs (root, so not under the packaged service), and an enabled syscall tracepoint sends every system call of every process through the kernel\'s slow exit path (measured: a connect + close loop 12% slower). false (default): there, such connects are published with outcome in_progress after enrich.outcomeWaitMs.',
      ...flag(false),
    },
    exclude: {
      ports: {
        doc: 'Destination ports never captured (filtered in the kernel).',
        ...portList([]),
      },
      cidrs: {
        doc: 'Destination networks never captured (filtered in the kernel), IPv4 or IPv6 CIDR, e.g. ["10.0.0.0/8", "fd00::/8"].',
        ...cidrList([]),
      },
    },
  },
  enrich: {
    dnsCache: {
      maxNames: {
        doc: 'Upper bound on DNS names (questions and CNAME targets) kept in the cache; least recently used go first. 65536 covers a busy host (a browser resolves a few thousand names a day). A name takes about 190 bytes of JavaScript heap with its CNAME link: 12 MiB for 65536, 190 MiB for 1048576.',
        ...wholeNumber(1, 2 ** 20, 65536),
      },
      maxAddresses: {
        doc: 'Upper bound on addresses kept in the cache (least recently used go first), at most 1048576. An address takes about 200 bytes of JavaScript heap with its A/AAAA link: 13 MiB for 65536, 200 MiB for 1048576.',
        ...wholeNumber(1, 2 ** 20, 65536),
      },
      scope: {
        doc: 'netns: a DNS reply only labels connects in the network namespace that received it (containers do not label each other). host: one cache for the whole host, as Tracee does.',
        ...oneOf(DNS_SCOPES, 'netns'),
      },
      maxTtlSeconds: {
        doc: 'TTLs longer than this are cut to it, so a name cannot stay in the cache for days; from 1 to 2147483647 (the largest TTL, RFC 2181).',
        ...wholeNumber(1, 2 ** 31 - 1, 86400),
      },
    },
    outcomeWaitMs: {
      doc: 'How long a TCP record waits for what became of its connect (outcome, srcIP/srcPort, communityId), in ms, from 0 to 60000; a connect with no answer by then is published with outcome "in_progress" (counted). 2000 covers the handshake on any real path (loopback answers within 0.3 ms, measured from Node; intercontinental round trips stay under 400 ms) and one lost SYN, which Linux retransmits after 1 s (a blackholed destination only times out after the last SYN retransmit, 127 s with net.ipv4.tcp_syn_retries 6, so it is in_progress at any sane wait); a record with no answer is published that much later, and the records held cost memory (see enrich.outcomeMaxPending). 0: no wait, no join (outcome, srcIP, srcPort, communityId null).',
      ...wholeNumber(0, 60_000, 2000),
    },
    outcomeMaxPending: {
      doc: 'Records held waiting for their outcome at most, from 1 to 1048576; past it the oldest is published at once as in_progress (counted as evicted). The default holds 10k connects/s for the default 2 s wait; a held record takes about 520 bytes of JavaScript heap (the record itself, which the queue would hold anyway, and its lookup entries; measured) plus 72 bytes allocated at start per pending place: about 12 MiB for 20000.',
      ...wholeNumber(1, 2 ** 20, 20000),
    },
    processCache: {
      maxEntries: {
        doc: 'Processes whose /proc context (ppid, executable, container id, argv, parent and ancestors) is cached, keyed by pid and start time; at most 1048576 (the kernel allows at most 4194304 pids; the cache lives in the JavaScript heap: each entry holds up to enrich.process.maxArgBytes of argv twice, as args and commandLine, and the Avro encoder keeps the bytes it wrote of the argv, commandLine, entity id, parent and ancestors of each process that connected, about as much again, for as long as its entry lives).',
        ...wholeNumber(1, 2 ** 20, 8192),
      },
    },
    process: {
      maxArgs: {
        doc: 'Arguments of argv kept in process.args, from 0 to 4096; more are left out and process.argsTruncated is true (process.argsCount says how many there were).',
        ...wholeNumber(0, 4096, 64),
      },
      maxArgBytes: {
        doc: 'Bytes of argv kept in process.args (whole arguments while they fit; the first one cut at a character boundary if it alone does not), from 0 to 131072 (the kernel\'s own limit per argument). 2048 keeps a full default process cache under 32 MiB.',
        ...wholeNumber(0, 131_072, 2048),
      },
      maxAncestors: {
        doc: 'Ancestors above the parent listed in process.ancestors (nearest first), from 0 to 64.',
        ...wholeNumber(0, 64, 8),
      },
    },
    accounts: {
      passwdFile: {
        doc: 'The account file user names are read from (process.userName), by uid; re-read when it changes. Under Kubernetes, the host\'s /etc/passwd mounted into the pod. Accounts only in a directory service (LDAP, sssd) get null names. Empty: no user names.',
        ...absolutePathOrEmpty('/etc/passwd'),
      },
      groupFile: {
        doc: 'The group file group names are read from (process.groupName), by gid; re-read when it changes. Empty: no group names.',
        ...absolutePathOrEmpty('/etc/group'),
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
      doc: 'Confluent-compatible schema registry URL (http:// or https://). Empty with no brokers configured: the local stack\'s registry.',
      ...httpUrlOrEmpty(''),
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
      ...text(''),
    },
    password: {
      doc: 'Basic-auth password for the registry (needs registry.username).',
      ...text(''),
      sensitive: true,
    },
    startupRetryMs: {
      doc: 'How long to keep retrying an unreachable registry at startup before giving up with exit code 1, in ms, from 0 (fail at once) to 3600000 (an hour).',
      ...wholeNumber(0, 3_600_000, 30000),
    },
  },
  kafka: {
    brokers: {
      doc: 'Bootstrap brokers, host:port: a host name or IPv4 address (kafkajs takes no IPv6 literal) and a port from 1 to 65535. Empty: `conntrail run` starts the local stack (stack/stack.sh) and uses 127.0.0.1:9092.',
      ...brokerList([]),
    },
    clientId: {
      doc: 'Kafka client id.',
      ...name('conntrail'),
    },
    topic: {
      doc: 'Topic the NetTCPConnect records are written to.',
      ...topicName('conntrail.net-tcp-connect'),
    },
    createTopic: {
      doc: 'Create the topic at startup when it does not exist; false: a missing topic is an error.',
      ...flag(true),
    },
    topicPartitions: {
      doc: 'Partitions for a topic conntrail creates, from 1 to 2147483647 (int32 in the Kafka protocol).',
      ...wholeNumber(1, KAFKA_INT32_MAX, 3),
    },
    topicReplicationFactor: {
      doc: 'Replication factor for a topic conntrail creates, from 1 to 32767 (int16 in the Kafka protocol), or -1: the broker default.',
      ...wholeNumber(1, KAFKA_INT16_MAX, -1, { value: -1, means: 'the broker default' }),
    },
    acks: {
      doc: 'Acknowledgements: -1 = all in-sync replicas (no loss on a leader change), 1 = leader only, 0 = none.',
      ...numberOneOf(KAFKA_ACKS, -1),
    },
    idempotent: {
      doc: 'Idempotent producer: the broker discards duplicates of batches kafkajs retries (needs kafka.acks=-1, kafka.batch.maxInFlight=1 and kafka.retry.retries of at least 1). On by default: without it a partial failure on a new topic was seen to duplicate records. A broker restart can still duplicate one resent request.',
      ...flag(true),
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
      doc: 'Time the broker has to answer a produce request, in ms, from 1 to 900000 (librdkafka\'s request.timeout.ms range).',
      ...wholeNumber(1, 900_000, 30000),
    },
    retry: {
      retries: {
        doc: 'Retries of one connection or admin request (kafkajs retry.retries), and of one send by the idempotent producer, from 0 to 1000 (at least 1 while kafka.idempotent is true). A batch is never given up for a transient error: the sink sends it again with backoff while the queue holds new records.',
        ...wholeNumber(0, 1000, 8),
      },
      initialRetryTimeMs: {
        doc: 'First retry delay, in ms, from 1 to 300000 (librdkafka\'s retry.backoff.ms range) and at most kafka.retry.maxRetryTimeMs; later ones back off exponentially with jitter.',
        ...wholeNumber(1, 300_000, 300),
      },
      maxRetryTimeMs: {
        doc: 'Longest delay between two retries, in ms, from 1 to 300000 (librdkafka\'s retry.backoff.max.ms range). Bounds the reconnects while no broker answers; a send whose partition leader moved or whose broker is unreachable is retried within 1 s whatever this says (each attempt goes where fresh metadata says: a new leader is found within a second of its election).',
        ...wholeNumber(1, 300_000, 30000),
      },
    },
    batch: {
      maxRecords: {
        doc: 'Flush a batch when it holds this many records (librdkafka batches up to 10,000), from 1 to 1000000 (librdkafka\'s batch.num.messages range).',
        ...wholeNumber(1, 1_000_000, 10000),
      },
      maxBytes: {
        doc: 'Flush a batch when its encoded records reach this many bytes (librdkafka: 1 MB), from 1 to 1000000000 (librdkafka\'s message.max.bytes range). Keep it under the broker\'s message.max.bytes.',
        ...wholeNumber(1, 1_000_000_000, 1000000),
      },
      lingerMs: {
        doc: 'Flush a batch at most this long after its first record arrived, in ms, from 0 to 900000 (librdkafka\'s linger.ms range; it lingers 5 ms). Higher: fewer, larger requests; lower: less latency.',
        ...wholeNumber(0, 900_000, 10),
      },
      maxInFlight: {
        doc: 'Batches sent and not yet acknowledged at once, from 1 to 1000. 1 keeps per-key order across retries. The idempotent producer (kafka.idempotent, on by default) needs 1: more than 1 needs kafka.idempotent=false.',
        ...wholeNumber(1, 1000, 1),
      },
    },
    ssl: {
      enabled: {
        doc: 'Connect to the brokers with TLS.',
        ...flag(false),
      },
      caFile: {
        doc: 'PEM file of the CA that signed the brokers\' certificates (empty: the system CAs). Needs kafka.ssl.enabled.',
        ...pathOrEmpty(''),
      },
      certFile: {
        doc: 'PEM client certificate for mutual TLS (empty: none). Needs kafka.ssl.enabled and kafka.ssl.keyFile.',
        ...pathOrEmpty(''),
      },
      keyFile: {
        doc: 'PEM private key of the client certificate. Needs kafka.ssl.enabled and kafka.ssl.certFile.',
        ...pathOrEmpty(''),
      },
      rejectUnauthorized: {
        doc: 'Refuse brokers whose certificate does not verify. Turn off only for a test cluster.',
        ...flag(true),
      },
    },
    sasl: {
      mechanism: {
        doc: 'SASL mechanism: none, plain, scram-sha-256 or scram-sha-512. Any but none needs kafka.sasl.username and kafka.sasl.password.',
        ...oneOf(SASL_MECHANISMS, 'none'),
      },
      username: {
        doc: 'SASL user name (used when kafka.sasl.mechanism is not none).',
        ...text(''),
      },
      password: {
        doc: 'SASL password (used when kafka.sasl.mechanism is not none).',
        ...text(''),
        sensitive: true,
      },
    },
  },
  queue: {
    maxRecords: {
      doc: 'Records held between enrichment and Kafka while batches wait or Kafka is down; past this the policy applies. From 1 to 10000000: the slots are allocated at start, 36 bytes each (10M: 360 MB).',
      ...wholeNumber(1, 10_000_000, 200000),
    },
    maxBytes: {
      doc: 'Encoded bytes held in the queue; past this the policy applies. Bounds memory while Kafka is down. From 1 to 17179869184 (16 GiB).',
      ...wholeNumber(1, 2 ** 34, 64 * 1024 * 1024),
    },
    policy: {
      doc: 'When the queue is full: "drop-newest" keeps what is queued and counts the new record as dropped; "drop-oldest" makes room by dropping the oldest record. Either way capture keeps draining the ring buffer.',
      ...oneOf(QUEUE_POLICIES, 'drop-newest'),
    },
  },
  agent: {
    heartbeatSec: {
      doc: 'Every this many seconds one AgentStatus record on agent.statusTopic (host, version, probe, records captured and published, drops by stage with the time range they fell in, queue and spool depth), from 0 (never) to 86400 (a day). A SIEM alerts on a host with no recent status record, or on drops. One more is sent when conntrail stops.',
      ...wholeNumber(0, 86_400, 30),
    },
    statusTopic: {
      doc: 'Topic the AgentStatus records go to, in encoding.format (Avro: the status schema under its own subject, per registry.subjectStrategy). Created with one partition when missing and kafka.createTopic allows it.',
      ...topicName('conntrail.agent-status'),
    },
  },
  spool: {
    directory: {
      doc: 'Directory of the disk spool (an absolute path; created if missing, owned by this conntrail alone). Every record accepted is written there first and deleted once Kafka acknowledges it, so an outage longer than the memory queue holds, a crash (SIGKILL) or a restart loses nothing: records left unacknowledged are sent first at the next start (at-least-once: those acknowledged in the last half second before a crash are sent again). Empty: no spool, the memory queue alone (the packaged service sets /var/lib/conntrail/spool).',
      ...absolutePathOrEmpty(''),
    },
    maxBytes: {
      doc: 'Most bytes of segment files on disk, from 131072 (128 KiB) to 17179869184 (16 GiB), and at least twice spool.segmentBytes; past it spool.policy applies. The default, 2 GiB, holds about 19 minutes at 2,000 connects/s of Avro records (~920 bytes on disk each with the v2 process fields, measured by the outage section of npm run bench); ECS JSON records are two to three times larger.',
      ...wholeNumber(128 * 1024, 2 ** 34, 2 * 1024 * 1024 * 1024),
    },
    segmentBytes: {
      doc: 'Size at which a segment file is closed and a new one started, from 65536 to 1073741824 (1 GiB). Disk is freed a whole segment at a time, once every record in it is acknowledged, and damage found on disk costs at most the rest of one segment.',
      ...wholeNumber(64 * 1024, 2 ** 30, 16 * 1024 * 1024),
    },
    policy: {
      doc: 'When the spool is full: "drop-newest" refuses new records (counted as spool_full); "drop-oldest" deletes the oldest segment, whose records not yet sent are counted as spool_full.',
      ...oneOf(QUEUE_POLICIES, 'drop-newest'),
    },
    fsync: {
      doc: 'When writes reach the disk itself: "never" (the kernel flushes within ~30 s; a crash of conntrail loses nothing, a power loss what was not flushed), "interval" (an fdatasync every spool.fsyncIntervalMs while records are written: a power loss loses at most that long), "always" (after every write: one per kernel batch, about 100 a second).',
      ...oneOf(FSYNC_POLICIES, 'interval'),
    },
    fsyncIntervalMs: {
      doc: 'With spool.fsync "interval": how long written records may wait for an fdatasync, in ms, from 1 to 60000. No timer runs while nothing is written.',
      ...wholeNumber(1, 60_000, 1000),
    },
  },
  shutdown: {
    flushTimeoutMs: {
      doc: 'On SIGINT/SIGTERM, how long to keep flushing queued records to Kafka before detaching and exiting, in ms, from 0 to 3600000 (an hour; a service manager stops waiting long before: systemd after 90 s by default).',
      ...wholeNumber(0, 3_600_000, 10000),
    },
  },
  log: {
    level: {
      doc: 'Log level (pino).',
      ...oneOf(LOG_LEVELS, 'info'),
    },
    statsIntervalSec: {
      doc: 'Every this many seconds one log line with events/s, drops by reason, queue depth, last publish and DNS cache size, from 0 (never) to 86400 (a day).',
      ...wholeNumber(0, 86_400, 10),
    },
  },
  telemetry: {
    enabled: {
      doc: 'OpenTelemetry traces and metrics. Off: the SDK is not even loaded; /healthz and /readyz still listen on telemetry.prometheusPort unless it is 0.',
      ...flag(true),
    },
    otlpEndpoint: {
      doc: 'OTLP/HTTP endpoint of a collector, e.g. http://127.0.0.1:4318. Empty: the standard OTEL_EXPORTER_OTLP_* variables decide, and with none set no traces are exported.',
      ...httpUrlOrEmpty(''),
    },
    sampleRatio: {
      doc: 'Share of events that get a per-event trace (capture -> enrich -> encode -> queue -> Kafka ack). Batch spans are always recorded.',
      ...ratio(0.001),
    },
    maxTracedEventsPerSecond: {
      doc: 'Cap on per-event traces started per second, over sampleRatio: each costs about a millisecond of CPU to build and export, so the cap bounds tracing\'s cost at any event rate (20: 0.001 of 20k events/s, about 2% of one core). From 1 to 100000.',
      ...wholeNumber(1, 100_000, 20),
    },
    prometheusPort: {
      doc: 'Port of conntrail\'s HTTP endpoint, from 1 to 65535: /metrics (the Prometheus scrape), /healthz and /readyz (what `conntrail status` asks). It listens with telemetry.enabled false too (/metrics is then a 404). 0: off, no /metrics, /healthz or /readyz.',
      ...port(9464, 'off'),
    },
    prometheusHost: {
      doc: 'Address the HTTP endpoint of telemetry.prometheusPort listens on, for /metrics, /healthz and /readyz alike (an IP address or host name). `conntrail status` asks a wildcard address (0.0.0.0, ::) on loopback.',
      ...listenAddress('127.0.0.1'),
    },
    kafkajsInstrumentation: {
      doc: 'Also load @opentelemetry/instrumentation-kafkajs (one span per message: costly at high rates).',
      ...flag(false),
    },
  },
};
