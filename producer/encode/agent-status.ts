// Encoders for the status topic's AgentStatus records (producer/heartbeat):
// Avro in the Confluent wire format with the status schema's registry id, or
// an ECS JSON document. One record every agent.heartbeatSec: plain avsc and a
// JSON object are cheap enough, no slab or hand-built string.
import type avsc from 'avsc';
import type { AgentStatus } from '../model/agent-status.ts';
import { MAGIC_BYTE, WIRE_HEADER_BYTES } from './avro.ts';
import { ECS_EVENT_MODULE, ECS_VERSION, isoMicros } from './ecs.ts';
import type { EncodingFormat } from './types.ts';

export const ECS_STATUS_DATASET = 'conntrail.agent_status';

/**
 * Where each AgentStatus field goes in the ECS document (a test checks that
 * every field of AGENT_STATUS_SHAPE is here and lands there). ECS has no field
 * for a pipeline's counts: they go under `conntrail.*`.
 */
export const ECS_STATUS_FIELD_MAP: Readonly<Record<string, string>> = {
  eventId: 'event.id',
  eventName: 'conntrail.event_name',
  timestamp: '@timestamp',
  intervalStart: 'event.start',
  'host.name': 'host.name',
  'host.machineId': 'host.id',
  'host.bootId': 'host.boot.id',
  'agent.version': 'agent.version',
  'agent.startedAt': 'conntrail.agent.started_at',
  'agent.sequence': 'event.sequence',
  'agent.probe': 'event.provider',
  'agent.dnsCapture': 'conntrail.agent.dns_capture',
  captured: 'conntrail.captured',
  published: 'conntrail.published',
  'drops.kernel': 'conntrail.drops.kernel',
  'drops.decode': 'conntrail.drops.decode',
  'drops.queue': 'conntrail.drops.queue',
  'drops.spool': 'conntrail.drops.spool',
  'drops.publish': 'conntrail.drops.publish',
  'drops.shutdown': 'conntrail.drops.shutdown',
  'drops.total': 'conntrail.drops.total',
  lossStart: 'conntrail.loss.start',
  lossEnd: 'conntrail.loss.end',
  queueRecords: 'conntrail.queue.records',
  spoolRecords: 'conntrail.spool.records',
  spoolBytes: 'conntrail.spool.bytes',
  lastPublishAt: 'conntrail.last_publish_at',
  lastError: 'conntrail.last_error',
};

const iso = (micros: number | null): string | undefined => (micros === null ? undefined : isoMicros(micros));

/** The ECS document of one status record (null fields are left out). */
export function ecsStatus(s: AgentStatus): Record<string, unknown> {
  const h = s.host;
  return {
    '@timestamp': isoMicros(s.timestamp),
    ecs: { version: ECS_VERSION },
    event: {
      kind: 'metric', category: ['host'], type: ['info'], id: s.eventId, module: ECS_EVENT_MODULE, dataset: ECS_STATUS_DATASET,
      start: isoMicros(s.intervalStart), end: isoMicros(s.timestamp), sequence: s.agent.sequence, provider: s.agent.probe,
    },
    host: { name: h.name, ...(h.machineId !== '' ? { id: h.machineId } : {}), boot: { id: h.bootId } },
    agent: { type: 'conntrail', version: s.agent.version },
    conntrail: {
      event_name: s.eventName,
      agent: { started_at: isoMicros(s.agent.startedAt), dns_capture: s.agent.dnsCapture },
      captured: s.captured,
      published: s.published,
      drops: { ...s.drops },
      loss: { start: iso(s.lossStart), end: iso(s.lossEnd) },
      queue: { records: s.queueRecords },
      ...(s.spoolRecords !== null || s.spoolBytes !== null ? { spool: { records: s.spoolRecords ?? undefined, bytes: s.spoolBytes ?? undefined } } : {}),
      last_publish_at: iso(s.lastPublishAt),
      last_error: s.lastError ?? undefined,
    },
  };
}

/** Turns one AgentStatus into a Kafka message value. */
export interface StatusEncoder {
  readonly format: EncodingFormat;
  encode(s: AgentStatus): Buffer;
}

/** Avro, Confluent-framed with `schemaId`, written with `type` (the status subject's writer schema). */
export function avroStatusEncoder(schemaId: number, type: avsc.Type): StatusEncoder {
  return {
    format: 'avro',
    encode(s) {
      const body = type.toBuffer(s);
      const out = Buffer.allocUnsafe(WIRE_HEADER_BYTES + body.length);
      out[0] = MAGIC_BYTE;
      out.writeUInt32BE(schemaId, 1);
      body.copy(out, WIRE_HEADER_BYTES);
      return out;
    },
  };
}

export const ecsStatusEncoder: StatusEncoder = {
  format: 'ecs-json',
  encode: (s) => Buffer.from(JSON.stringify(ecsStatus(s))),
};
