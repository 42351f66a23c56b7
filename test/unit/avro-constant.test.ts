// The Avro encoder's constant fields (eventName, host) copied from bytes encoded
// once (producer/encode/avro-constant.ts): every record must come out byte for
// byte as avsc's own type.toBuffer writes it, whatever the writer schema, the
// host object or the slab size; schemas the shortcut cannot serve fall back to
// plain avsc.
import test from 'ava';
import fc from 'fast-check';
import { AvroEncoder, readWireFrame } from '../../producer/encode/avro.ts';
import { avroType, loadBundledSchema } from '../../producer/model/avro-schema.ts';
import type { AvroField, AvroRecordSchema } from '../../producer/model/avro-schema.ts';
import { sampleRecord } from '../../producer/model/sample.ts';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';

type Host = NetTCPConnect['host'];
type AvscType = ReturnType<typeof avroType>;

const bundledJson = (): AvroRecordSchema => structuredClone(loadBundledSchema().json);
const field = (json: AvroRecordSchema, name: string): AvroField => json.fields.find((f) => f.name === name)!;
const hostFields = (json: AvroRecordSchema): AvroField[] => (field(json, 'host').type as AvroRecordSchema).fields;

/** The bundled schema reordered (host and eventName side by side, eventName after host) and extended with defaulted fields, also inside Host. */
function reorderedExtended(): AvroRecordSchema {
  const json = bundledJson();
  const by = (n: string): AvroField => field(json, n);
  const host = by('host');
  (host.type as AvroRecordSchema).fields = [
    { name: 'domain', type: ['null', 'string'], default: null },
    ...hostFields(json).reverse(),
    { name: 'rack', type: 'int', default: 7 },
    { name: 'region', type: 'string', default: 'eu-west' },
  ];
  json.fields = [
    by('process'), { name: 'site', type: ['null', 'string'], default: null }, host, by('eventName'), by('timestamp'),
    { name: 'tier', type: { type: 'enum', name: 'Tier', symbols: ['GOLD', 'SILVER'] }, default: 'SILVER' },
    by('results'), by('eventId'), by('dstIP'), by('netnsCookie'), by('probe'), by('dstPort'), by('family'),
  ];
  return json;
}

// Strings of any Unicode (multi-byte UTF-8, surrogate pairs), short and past avsc's 64-byte switch.
const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', minLength: 30, maxLength: 90 }));
const long = fc.maxSafeInteger().map((n) => Math.trunc(n / 2)); // avsc refuses +-(2^53 - 1)
const sharedHost: Host = Object.freeze({ name: 'web-1', machineId: '0123456789abcdef0123456789abcdef', bootId: 'f0e1d2c3-b4a5-4697-8877-665544332211' });
const otherHost: Host = Object.freeze({ name: 'wëb-2 ☃', machineId: '', bootId: 'aaaaaaaa-b4a5-4697-8877-665544332211' });

/** A host as records carry them: mostly the shared frozen object, also equal copies, others and random ones. */
const hostArb: fc.Arbitrary<Host> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(sharedHost) },
  { weight: 2, arbitrary: fc.constant(null).map(() => ({ ...sharedHost })) },
  { weight: 1, arbitrary: fc.constant(otherHost) },
  { weight: 2, arbitrary: fc.record({ name: text, machineId: fc.oneof(fc.constant(''), text), bootId: text }) },
);

const recordArb: fc.Arbitrary<NetTCPConnect> = fc.record({
  eventId: fc.oneof(fc.uuid(), text),
  eventName: fc.oneof({ weight: 8, arbitrary: fc.constant('NetTCPConnect') }, { weight: 1, arbitrary: text }),
  timestamp: long,
  host: hostArb,
  process: fc.record({
    pid: fc.integer(), tid: fc.integer(), ppid: fc.option(fc.integer(), { nil: null }),
    uid: long, gid: long, comm: text, exe: fc.option(text, { nil: null }), cgroupId: long, containerId: fc.option(text, { nil: null }),
  }),
  netnsCookie: long,
  dstIP: fc.oneof(fc.ipV4(), fc.ipV6()),
  dstPort: fc.integer({ min: 0, max: 65535 }),
  family: fc.constantFrom('AF_INET', 'AF_INET6'),
  results: fc.array(fc.oneof(fc.domain(), text), { maxLength: 6 }),
  probe: fc.constantFrom('lsm', 'fentry', 'kprobe', 'cgroup', 'tracepoint'),
}) as fc.Arbitrary<NetTCPConnect>;

/** Runs records through one encoder (its cache carries from record to record) and checks each against type.toBuffer. */
function sameAsAvsc(t: { is: (a: unknown, b: unknown, m?: string) => void }, enc: AvroEncoder, type: AvscType, records: readonly unknown[]): void {
  for (const r of records) {
    const want = type.toBuffer(r);
    const { schemaId, body } = readWireFrame(enc.encode(r as NetTCPConnect));
    t.is(schemaId, enc.schemaId);
    if (!body.equals(want)) t.is(body.toString('hex'), want.toString('hex'), `record ${JSON.stringify(r)}`);
  }
}

test('the bundled schema: host comes from cached bytes (eventName, not next to it, from avsc)', (t) => {
  const enc = new AvroEncoder(1);
  t.deepEqual(enc.constantFields, ['host']);
  t.deepEqual(new AvroEncoder(1, undefined, { constantFields: false }).constantFields, []);
});

test('fuzz: byte-identical to avsc with the bundled schema, across slab sizes', (t) => {
  const type = loadBundledSchema().type;
  for (const slabBytes of [256, 700, 64 * 1024]) {
    const enc = new AvroEncoder(3, undefined, { slabBytes });
    t.deepEqual(enc.constantFields, ['host']); // not the plain avsc fallback
    fc.assert(fc.property(fc.array(recordArb, { minLength: 1, maxLength: 40 }), (records) => {
      sameAsAvsc(t, enc, type, records);
    }), { numRuns: 150, seed: slabBytes });
  }
});

test('fuzz: byte-identical to avsc with a reordered writer schema with extra defaulted fields', (t) => {
  const type = avroType(reorderedExtended());
  const enc = new AvroEncoder(4, type, { slabBytes: 512 });
  // host and eventName are next to each other there: one run of constant fields.
  t.deepEqual(enc.constantFields, ['host', 'eventName']);
  const extras = fc.record({ site: fc.option(text, { nil: null }), tier: fc.constantFrom('GOLD', 'SILVER') }, { requiredKeys: [] });
  const hostExtras = fc.record({ domain: fc.option(text, { nil: null }), rack: fc.integer(), region: text }, { requiredKeys: [] });
  const withExtras = fc.tuple(recordArb, extras, fc.option(hostExtras, { nil: undefined })).map(([r, e, h]) => ({ ...r, ...e, ...(h === undefined ? {} : { host: { ...r.host, ...h } }) }));
  fc.assert(fc.property(fc.array(fc.oneof(recordArb, withExtras), { minLength: 1, maxLength: 40 }), (records) => {
    sameAsAvsc(t, enc, type, records);
  }), { numRuns: 300, seed: 42 });
});

test('fuzz: byte-identical to avsc on avsc\'s own random values of the writer types', (t) => {
  for (const type of [loadBundledSchema().type, avroType(reorderedExtended())]) {
    const enc = new AvroEncoder(5, type, { slabBytes: 300 });
    t.true(enc.constantFields.includes('host'));
    const shared = type.random() as unknown as { host: unknown };
    // Random records, some sharing one host object, as the enricher's records do.
    const records = Array.from({ length: 2000 }, (_, i) => {
      const r = type.random() as unknown as { host: unknown };
      return i % 3 === 0 ? r : { ...r, host: shared.host };
    });
    sameAsAvsc(t, enc, type, records);
  }
});

test('a host changed in place (not frozen) is not taken for the cached one', (t) => {
  const type = loadBundledSchema().type;
  const enc = new AvroEncoder(1);
  const host = { ...sharedHost };
  const r = sampleRecord({ host });
  sameAsAvsc(t, enc, type, [r, r]);
  host.name = 'renamed-host';
  sameAsAvsc(t, enc, type, [r]);
  t.is((type.fromBuffer(readWireFrame(enc.encode(r)).body) as NetTCPConnect).host.name, 'renamed-host');
  host.bootId = 'ü'.repeat(70);
  sameAsAvsc(t, enc, type, [r, sampleRecord(), r, sampleRecord({ eventName: 'Other' }), sampleRecord()]);
});

test('an invalid constant field throws as avsc does, and the next records are right', (t) => {
  const type = loadBundledSchema().type;
  const enc = new AvroEncoder(1);
  sameAsAvsc(t, enc, type, [sampleRecord()]);
  t.throws(() => enc.encode({ ...sampleRecord(), host: undefined } as never));
  t.throws(() => enc.encode(sampleRecord({ host: { ...sharedHost, name: 42 as never } })));
  t.throws(() => enc.encode(sampleRecord({ eventName: null as never })));
  t.throws(() => enc.encode(sampleRecord({ dstPort: 'https' as never })));
  sameAsAvsc(t, enc, type, [sampleRecord(), sampleRecord({ host: otherHost }), sampleRecord()]);
});

test('fallback: constant fields whose values are not plain primitives are written by avsc', (t) => {
  const sample = sampleRecord();
  // host with a double (0 === -0, but not the same bytes): not cached, nor eventName alone.
  const dbl = bundledJson();
  hostFields(dbl).push({ name: 'load', type: 'double', default: 0 });
  const dblEnc = new AvroEncoder(1, avroType(dbl));
  t.deepEqual(dblEnc.constantFields, []);
  // ... but eventName next to a cacheable host is cached with it.
  const moved = bundledJson();
  moved.fields = [field(moved, 'eventName'), field(moved, 'host'), ...moved.fields.filter((f) => f.name !== 'eventName' && f.name !== 'host')];
  t.deepEqual(new AvroEncoder(1, avroType(moved)).constantFields, ['eventName', 'host']);
  sameAsAvsc(t, new AvroEncoder(1, avroType(moved)), avroType(moved), [sampleRecord(), sampleRecord({ eventName: 'X' }), sampleRecord({ host: otherHost }), sampleRecord()]);
  sameAsAvsc(t, dblEnc, avroType(dbl), [sample, { ...sample, host: { ...sample.host, load: -0 } }, { ...sample, host: { ...sample.host, load: 0 } }]);

  // host with a nested record, eventName an array: nothing cached, plain avsc.
  const none = bundledJson();
  hostFields(none).push({ name: 'tags', type: { type: 'map', values: 'string' }, default: {} });
  field(none, 'eventName').type = ['string', { type: 'array', items: 'string' }];
  const noneType = avroType(none);
  const noneEnc = new AvroEncoder(1, noneType);
  t.deepEqual(noneEnc.constantFields, []);
  sameAsAvsc(t, noneEnc, noneType, [sample, { ...sample, eventName: ['a', 'b'] }, { ...sample, host: { ...sample.host, tags: { a: 'b' } } }]);

  // A writer schema without the constant fields at all, and a non-record one.
  const bare = bundledJson();
  bare.fields = bare.fields.filter((f) => f.name !== 'host' && f.name !== 'eventName');
  t.deepEqual(new AvroEncoder(1, avroType(bare)).constantFields, []);
  t.deepEqual(new AvroEncoder(1, avroType('"string"')).constantFields, []);
});

test('fallback: a writer the samples cannot be encoded with stays on plain avsc', (t) => {
  const json = bundledJson();
  json.fields.push({ name: 'tenant', type: 'string' }); // required, conntrail records have none
  const type = avroType(json);
  const enc = new AvroEncoder(1, type);
  t.deepEqual(enc.constantFields, []);
  t.throws(() => enc.encode(sampleRecord()));
  sameAsAvsc(t, enc, type, [{ ...sampleRecord(), tenant: 'acme' }]);
});
