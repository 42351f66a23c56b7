// The NetTCPConnect Avro schema bundled with conntrail (schemas/NetTCPConnect.avsc):
// its file, its full name (for the record subject strategies) and the avsc type
// built from it. The encoder writes with it and the registry registers it; a
// test checks it against NET_TCP_CONNECT_SHAPE (net-tcp-connect.ts).
import fs from 'node:fs';
import avsc from 'avsc';

/** The schema file bundled with conntrail. */
export const SCHEMA_FILE = new URL('../../schemas/NetTCPConnect.avsc', import.meta.url);
/** Full name of the record (namespace.name), used by the record subject strategies. */
export const RECORD_FULL_NAME = 'io.conntrail.NetTCPConnect';

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
}

let bundled: BundledSchema | undefined;
/** Reads and parses schemas/NetTCPConnect.avsc (once per process). */
export function loadBundledSchema(): BundledSchema {
  if (bundled) return bundled;
  const text = fs.readFileSync(SCHEMA_FILE, 'utf8');
  const json = JSON.parse(text) as AvroRecordSchema;
  bundled = { text, json, type: avroType(json) };
  return bundled;
}

/** avsc type for a schema (JSON object or text), with the options conntrail uses everywhere. */
export function avroType(schema: unknown): avsc.Type {
  const parsed = typeof schema === 'string' ? JSON.parse(schema) : schema;
  return avsc.Type.forSchema(parsed as avsc.Schema, { wrapUnions: false });
}
