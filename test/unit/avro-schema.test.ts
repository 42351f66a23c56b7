// schemas/NetTCPConnect.avsc against NET_TCP_CONNECT_SHAPE and
// schemas/AgentStatus.avsc against AGENT_STATUS_SHAPE: same fields, same order,
// same kinds, a doc on every field. Fails when either side drifts.
import test from 'ava';
import { NET_TCP_CONNECT_SHAPE } from '../../producer/model/net-tcp-connect.ts';
import { AGENT_STATUS_SHAPE } from '../../producer/model/agent-status.ts';
import type { LeafKind, Shape } from '../../producer/model/shape.ts';
import { loadBundledSchema, loadStatusSchema, RECORD_FULL_NAME, STATUS_RECORD_FULL_NAME } from '../../producer/model/avro-schema.ts';
import { sampleStatus } from '../../producer/model/sample.ts';
import type { AvroField, AvroRecordSchema } from '../../producer/model/avro-schema.ts';

const LEAF_SCHEMAS: Record<LeafKind, unknown> = {
  string: 'string',
  int: 'int',
  long: 'long',
  'timestamp-micros': { type: 'long', logicalType: 'timestamp-micros' },
  'string[]': { type: 'array', items: 'string' },
  'string?': ['null', 'string'],
  'int?': ['null', 'int'],
  'long?': ['null', 'long'],
  'timestamp-micros?': ['null', { type: 'long', logicalType: 'timestamp-micros' }],
  'string[]?': ['null', { type: 'array', items: 'string' }],
  'boolean?': ['null', 'boolean'],
};

/** Walks shape and schema together; returns one message per mismatch. */
function drift(shape: Shape, record: AvroRecordSchema, path: string): string[] {
  const problems: string[] = [];
  const shapeNames = Object.keys(shape);
  const schemaNames = record.fields.map((f) => f.name);
  if (JSON.stringify(shapeNames) !== JSON.stringify(schemaNames)) {
    problems.push(`${path || '<root>'}: fields differ: shape ${JSON.stringify(shapeNames)} vs avsc ${JSON.stringify(schemaNames)}`);
  }
  for (const field of record.fields) {
    const at = path ? `${path}.${field.name}` : field.name;
    if (typeof field.doc !== 'string' || field.doc.trim() === '') problems.push(`${at}: no doc string`);
    const kind = shape[field.name];
    if (kind === undefined) continue;
    if (typeof kind === 'string') {
      problems.push(...leafDrift(kind, field, at));
    } else {
      const t = field.type as AvroRecordSchema;
      if (typeof t !== 'object' || t === null || (t as { type?: unknown }).type !== 'record') {
        problems.push(`${at}: shape has a nested record, avsc has ${JSON.stringify(field.type)}`);
        continue;
      }
      if (!t.doc) problems.push(`${at}: nested record has no doc`);
      problems.push(...drift(kind, t, at));
    }
  }
  return problems;
}

function leafDrift(kind: LeafKind, field: AvroField, at: string): string[] {
  const out: string[] = [];
  if (JSON.stringify(field.type) !== JSON.stringify(LEAF_SCHEMAS[kind])) {
    out.push(`${at}: shape kind ${kind} wants ${JSON.stringify(LEAF_SCHEMAS[kind])}, avsc has ${JSON.stringify(field.type)}`);
  }
  const nullable = kind.endsWith('?');
  if (nullable && !('default' in field && field.default === null)) out.push(`${at}: nullable field needs "default": null`);
  if (!nullable && 'default' in field) out.push(`${at}: non-nullable field has a default`);
  return out;
}

test('the bundled schema matches NET_TCP_CONNECT_SHAPE field for field', (t) => {
  const { json } = loadBundledSchema();
  t.deepEqual(drift(NET_TCP_CONNECT_SHAPE, json, ''), []);
});

test('the status schema matches AGENT_STATUS_SHAPE field for field, and is io.conntrail.AgentStatus', (t) => {
  const { json, type } = loadStatusSchema();
  t.deepEqual(drift(AGENT_STATUS_SHAPE, json, ''), []);
  t.is(type.name, STATUS_RECORD_FULL_NAME);
  t.truthy(json.doc);
});

test('the status schema round-trips the sample status records (all set, all null)', (t) => {
  const { type } = loadStatusSchema();
  for (const r of [sampleStatus(), sampleStatus(true)]) t.deepEqual(structuredClone({ ...type.fromBuffer(type.toBuffer(r)) }), r);
});

test('the schema is io.conntrail.NetTCPConnect with a record doc', (t) => {
  const { json, type } = loadBundledSchema();
  t.is(`${json.namespace}.${json.name}`, RECORD_FULL_NAME);
  t.is(type.name, RECORD_FULL_NAME);
  t.truthy(json.doc);
});

test('the drift check catches a renamed, a retyped, an undocumented and an added field', (t) => {
  const { json } = loadBundledSchema();
  const mutated = structuredClone(json);
  const f0 = mutated.fields[0] as AvroField;
  f0.name = 'eventUUID';
  const port = mutated.fields.find((f) => f.name === 'dstPort') as AvroField;
  port.type = 'long';
  const fam = mutated.fields.find((f) => f.name === 'family') as AvroField;
  delete fam.doc;
  const proc = mutated.fields.find((f) => f.name === 'process') as AvroField;
  (proc.type as AvroRecordSchema).fields.push({ name: 'extra', type: 'string', doc: 'x' });
  const problems = drift(NET_TCP_CONNECT_SHAPE, mutated, '');
  t.true(problems.some((p) => p.includes('eventUUID')));
  t.true(problems.some((p) => p.startsWith('dstPort:')));
  t.true(problems.some((p) => p === 'family: no doc string'));
  t.true(problems.some((p) => p.startsWith('process: fields differ')));
});

test('the drift check catches a field added to the shape', (t) => {
  const { json } = loadBundledSchema();
  const shape = { ...NET_TCP_CONNECT_SHAPE, newField: 'string' } as Shape;
  t.true(drift(shape, json, '').some((p) => p.startsWith('<root>: fields differ')));
});
