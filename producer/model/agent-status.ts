// The AgentStatus record: one per host every agent.heartbeatSec on the status
// topic (agent.statusTopic), so that a SIEM sees a silent host (no record for a
// while) and every loss (drops, by stage, with the time range they fell in).
// Counts cover the interval since the last status record Kafka acknowledged:
// a record that could not be sent is not lost, the next one covers its interval
// too. schemas/AgentStatus.avsc and the ECS mapping are tested against this shape.
import type { FromShape, Shape } from './shape.ts';

export const AGENT_STATUS_SHAPE = {
  /** Unique id of this record (UUID v4). */
  eventId: 'string',
  /** Always "AgentStatus". */
  eventName: 'string',
  /** When this record was made (end of the interval), microseconds since the epoch. */
  timestamp: 'timestamp-micros',
  /** Start of the interval the counts cover: the previous acknowledged status record, or the agent's start. */
  intervalStart: 'timestamp-micros',
  host: {
    /** Host name (config host.name). */
    name: 'string',
    /** /etc/machine-id, empty if the host has none. */
    machineId: 'string',
    /** Kernel boot id. */
    bootId: 'string',
  },
  agent: {
    /** conntrail version. */
    version: 'string',
    /** When this agent process started, microseconds since the epoch (a new value: the agent restarted). */
    startedAt: 'timestamp-micros',
    /** Status records made by this process, from 1 (gaps: records that could not be sent). */
    sequence: 'long',
    /** Connect probe attached: lsm, fentry, kprobe, cgroup or tracepoint. */
    probe: 'string',
    /** DNS reply capture: "per netns", "host-wide" or "unavailable: <why>". */
    dnsCapture: 'string',
  },
  /** Connect events read from the kernel in the interval. */
  captured: 'long',
  /** NetTCPConnect records acknowledged by Kafka in the interval. */
  published: 'long',
  drops: {
    /** Lost in the kernel: ring buffer full, DNS packet read errors. */
    kernel: 'long',
    /** Records the decoder refused as malformed. */
    decode: 'long',
    /** Dropped by the memory queue: full (records or bytes), or a record larger than queue.maxBytes. */
    queue: 'long',
    /** Lost by the disk spool (full, corrupt segments); 0 without a spool. */
    spool: 'long',
    /** Records that did not fit the encoding, or that Kafka refused with a permanent error. */
    publish: 'long',
    /** Still queued or unacknowledged when a shutdown's flush timed out. */
    shutdown: 'long',
    /** The sum of the above. */
    total: 'long',
  },
  /** First time in the interval a drop was seen (null: nothing lost), microseconds since the epoch; resolution about a second. */
  lossStart: 'timestamp-micros?',
  /** Last time in the interval a drop was seen (null: nothing lost). */
  lossEnd: 'timestamp-micros?',
  /** Records in the memory queue when this record was made. */
  queueRecords: 'long',
  /** Records waiting in the disk spool (null: no spool). */
  spoolRecords: 'long?',
  /** Bytes of the disk spool (null: no spool). */
  spoolBytes: 'long?',
  /** When Kafka last acknowledged a NetTCPConnect batch, microseconds since the epoch (null: none yet). */
  lastPublishAt: 'timestamp-micros?',
  /** The last Kafka send error of this process (null: none). */
  lastError: 'string?',
} as const satisfies Shape;

export type AgentStatus = FromShape<typeof AGENT_STATUS_SHAPE>;
