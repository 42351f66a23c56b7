// The Avro schemas bundled with conntrail: schemas/NetTCPConnect.avsc (the
// records) and schemas/AgentStatus.avsc (the status topic's heartbeats), each
// with its full name (for the record subject strategies) and the avsc type built
// from it. The encoders write with them and the registry registers them; a test
// checks each against its shape (net-tcp-connect.ts, agent-status.ts).
import fs from 'node:fs';
import avsc from 'avsc';

/** The schema file bundled with conntrail. */
export const SCHEMA_FILE = new URL('../../schemas/NetTCPConnect.avsc', import.meta.url);
/** Full name of the record (namespace.name), used by the record subject strategies. */
export const RECORD_FULL_NAME = 'io.conntrail.NetTCPConnect';
/** The status record's schema file. */
export const STATUS_SCHEMA_FILE = new URL('../../schemas/AgentStatus.avsc', import.meta.url);
export const STATUS_RECORD_FULL_NAME = 'io.conntrail.AgentStatus';

/** JSON of an Avro record schema (the subset conntrail uses). */
export interface AvroRecordSchema {
  type: 'record';
  name: string;
  namespace?: string;
  doc?: string;
  fields: AvroField[];
}
export interface AvroField {
  name: string;
  type: unknown;
  doc?: string;
  default?: unknown;
}

export interface BundledSchema {
  /** The file's text, as registered. */
  readonly text: string;
  readonly json: AvroRecordSchema;
  /** avsc type built from it. */
  readonly type: avsc.Type;
  /** namespace.name. */
  readonly fullName: string;
}

const loaded = new Map<string, BundledSchema>();
function load(file: URL): BundledSchema {
  let b = loaded.get(file.href);
  if (!b) {
    const text = fs.readFileSync(file, 'utf8');
    const json = JSON.parse(text) as AvroRecordSchema;
    b = { text, json, type: avroType(json), fullName: json.namespace ? `${json.namespace}.${json.name}` : json.name };
    loaded.set(file.href, b);
  }
  return b;
}

/** Reads and parses schemas/NetTCPConnect.avsc (once per process). */
export function loadBundledSchema(): BundledSchema {
  return load(SCHEMA_FILE);
}

/** Reads and parses schemas/AgentStatus.avsc (once per process). */
export function loadStatusSchema(): BundledSchema {
  return load(STATUS_SCHEMA_FILE);
}

/** avsc type for a schema (JSON object or text), with the options conntrail uses everywhere. */
export function avroType(schema: unknown): avsc.Type {
  const parsed = typeof schema === 'string' ? JSON.parse(schema) : schema;
  return avsc.Type.forSchema(parsed as avsc.Schema, { wrapUnions: false });
}
