import test from 'ava';
import { AvroEncoder, readWireFrame, WireFormatError } from '../../producer/encode/avro.ts';
import { avroType, loadBundledSchema } from '../../producer/model/avro-schema.ts';
import { sampleRecord, sparseRecord } from '../../producer/model/sample.ts';

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

test('Confluent wire format: magic 0, big-endian schema id, then the Avro body', (t) => {
  const enc = new AvroEncoder(0x01020304);
  const r = sampleRecord();
  const buf = enc.encode(r);
  t.is(buf[0], 0);
  t.deepEqual([...buf.subarray(1, 5)], [1, 2, 3, 4]);
  const { schemaId, body } = readWireFrame(buf);
  t.is(schemaId, 0x01020304);
  t.deepEqual(body, loadBundledSchema().type.toBuffer(r));
  t.deepEqual(plain(loadBundledSchema().type.fromBuffer(body)), plain(r));
});

test('round trip of a sparse record (nulls, no names, IPv6)', (t) => {
  const enc = new AvroEncoder(7);
  const r = sparseRecord();
  const { body } = readWireFrame(enc.encode(r));
  t.deepEqual(plain(loadBundledSchema().type.fromBuffer(body)), plain(r));
});

test('records encoded back to back into small slabs stay intact', (t) => {
  const enc = new AvroEncoder(42, undefined, { slabBytes: 300 });
  const records = Array.from({ length: 500 }, (_, i) => sampleRecord({
    dstPort: i, results: Array.from({ length: i % 7 }, (_, j) => `n${j}.example.org`),
    eventId: `id-${i}`.padEnd(36 + (i % 50), 'x'),
  }));
  const bufs = records.map((r) => enc.encode(r));
  const type = loadBundledSchema().type;
  bufs.forEach((b, i) => {
    const { schemaId, body } = readWireFrame(b);
    t.is(schemaId, 42);
    t.deepEqual(plain(type.fromBuffer(body)), plain(records[i]));
  });
});

test('a record bigger than a slab gets a slab of its own', (t) => {
  const enc = new AvroEncoder(1, undefined, { slabBytes: 256 });
  const r = sampleRecord({ results: Array.from({ length: 100 }, (_, i) => `very-long-name-${i}.example.com`) });
  const { body } = readWireFrame(enc.encode(r));
  t.deepEqual(plain(loadBundledSchema().type.fromBuffer(body)), plain(r));
});

test('an invalid record throws instead of writing garbage', (t) => {
  const enc = new AvroEncoder(1);
  t.throws(() => enc.encode({ ...sampleRecord(), dstPort: 'https' } as never));
  t.throws(() => enc.encode({ ...sampleRecord(), host: undefined } as never));
});

test('a writer schema with an extra defaulted field encodes conntrail records', (t) => {
  const json = structuredClone(loadBundledSchema().json);
  json.fields.push({ name: 'site', type: ['null', 'string'], default: null, doc: 'x' });
  const enc = new AvroEncoder(9, avroType(json));
  const { body } = readWireFrame(enc.encode(sampleRecord()));
  t.is((avroType(json).fromBuffer(body) as { site: unknown }).site, null);
});

test('readWireFrame refuses a non-framed buffer; schema ids are range-checked', (t) => {
  t.throws(() => readWireFrame(Buffer.from([1, 0, 0, 0, 1, 2])), { instanceOf: WireFormatError });
  t.throws(() => readWireFrame(Buffer.from([0, 0])), { instanceOf: WireFormatError });
  t.throws(() => new AvroEncoder(-1), { instanceOf: RangeError });
});
