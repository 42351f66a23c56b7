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

/** What a record takes from its process's context (producer/transform/enrich.ts). */
type Shared = Pick<NetTCPConnect['process'], 'args' | 'argsCount' | 'argsTruncated' | 'commandLine' | 'entityId' | 'parentComm' | 'parentExe' | 'ancestors'>;
const contextOf = (args: string[] | null, ancestors: string[] | null, freeze: boolean, entityId: string | null = 'yYl1HdqWw6XzSgJ7iN1Vdg'): Shared => ({
  args: args && freeze ? Object.freeze(args) : args, argsCount: args && args.length + 1, argsTruncated: args && args.length > 2, commandLine: args && args.join(' '),
  entityId, parentComm: ancestors && 'bash', parentExe: ancestors && '/usr/bin/bash', ancestors: ancestors && freeze ? Object.freeze(ancestors) : ancestors,
});
// Contexts shared by many records (frozen arrays, as process-context.ts makes them), one of them with multi-byte text past 64 bytes.
const pool: Shared[] = [
  contextOf(['curl', '-s', 'https://example.com/'], ['/usr/sbin/sshd', '/usr/lib/systemd/systemd'], true),
  contextOf(['python3', 'ü'.repeat(40), '☃ snow'], [], true, null),
  contextOf(null, ['/usr/lib/systemd/systemd'], true),
  contextOf(['a'], null, true),
];
const poolArb: fc.Arbitrary<Shared> = fc.constantFrom(...pool);
/** A context: mostly one of the pool, also the pool's arrays with other values beside them, unfrozen copies, and random ones. */
const contextArb: fc.Arbitrary<Shared> = fc.oneof(
  { weight: 6, arbitrary: poolArb },
  { weight: 1, arbitrary: fc.tuple(poolArb, fc.option(text, { nil: null }), fc.option(text, { nil: null })).map(([c, cl, pe]) => ({ ...c, commandLine: cl, parentExe: pe })) },
  { weight: 1, arbitrary: fc.tuple(poolArb, fc.option(fc.integer(), { nil: null })).map(([c, n]) => ({ ...c, argsCount: n, argsTruncated: n === null ? null : n > 3 })) },
  { weight: 1, arbitrary: poolArb.map((c) => ({ ...c, args: c.args && [...c.args], ancestors: c.ancestors && [...c.ancestors] })) },
  { weight: 2, arbitrary: fc.tuple(fc.option(fc.array(text, { maxLength: 5 }), { nil: null }), fc.option(fc.array(text, { maxLength: 3 }), { nil: null }), fc.boolean())
    .map(([a, b, freeze]) => contextOf(a, b, freeze)) },
);

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
  process: fc.tuple(fc.record({
    pid: fc.integer(), tid: fc.integer(), ppid: fc.option(fc.integer(), { nil: null }),
    uid: long, gid: long, comm: text, exe: fc.option(text, { nil: null }), cgroupId: long, containerId: fc.option(text, { nil: null }),
    startTime: fc.option(long, { nil: null }), userName: fc.option(text, { nil: null }), groupName: fc.option(text, { nil: null }),
  }), contextArb).map(([p, c]) => ({ ...p, ...c })),
  netnsCookie: long,
  dstIP: fc.oneof(fc.ipV4(), fc.ipV6()),
  dstPort: fc.integer({ min: 0, max: 65535 }),
  family: fc.constantFrom('AF_INET', 'AF_INET6'),
  results: fc.array(fc.oneof(fc.domain(), text), { maxLength: 6 }),
  probe: fc.constantFrom('lsm', 'fentry', 'kprobe', 'cgroup', 'tracepoint'),
}) as unknown as fc.Arbitrary<NetTCPConnect>;

/** Runs records through one encoder (its cache carries from record to record) and checks each against type.toBuffer. */
function sameAsAvsc(t: { is: (a: unknown, b: unknown, m?: string) => void }, enc: AvroEncoder, type: AvscType, records: readonly unknown[]): void {
  for (const r of records) {
    const want = type.toBuffer(r);
    const { schemaId, body } = readWireFrame(enc.encode(r as NetTCPConnect));
    t.is(schemaId, enc.schemaId);
    if (!body.equals(want)) t.is(body.toString('hex'), want.toString('hex'), `record ${JSON.stringify(r)}`);
  }
}

test('the bundled schema: host comes from cached bytes (eventName, not next to it, from avsc), and so do the per-process runs keyed by args and ancestors', (t) => {
  const enc = new AvroEncoder(1);
  t.deepEqual(enc.constantFields, ['host']);
  // exe alone has no array to be keyed by: avsc writes it
  t.deepEqual(enc.sharedFields, ['containerId', 'args', 'argsCount', 'argsTruncated', 'commandLine', 'entityId', 'parentComm', 'parentExe', 'ancestors'].map((n) => `process.${n}`));
  const plain = new AvroEncoder(1, undefined, { constantFields: false });
  t.deepEqual(plain.constantFields, []);
  t.deepEqual(plain.sharedFields, []);
});

test('a per-process run is copied only for the frozen array it was written for, with the same values beside it', (t) => {
  const type = loadBundledSchema().type;
  const enc = new AvroEncoder(1);
  const args = Object.freeze(['node', 'server.js']);
  const base = sampleRecord();
  const rec = (p: Partial<NetTCPConnect['process']>): NetTCPConnect => ({ ...base, process: { ...base.process, args, commandLine: 'node server.js', argsCount: 2, ...p } });
  // the same array with another commandLine, count or container: not taken for the cached run
  const records = [rec({}), rec({}), rec({ commandLine: 'node other.js' }), rec({ argsCount: 9 }), rec({ containerId: 'c'.repeat(64) }), rec({}), rec({ args: [...args] }), rec({})];
  sameAsAvsc(t, enc, type, records);
  const decoded = records.map((r) => type.fromBuffer(readWireFrame(enc.encode(r)).body) as NetTCPConnect);
  t.deepEqual(decoded.map((r) => [r.process.commandLine, r.process.argsCount, r.process.containerId]), records.map((r) => [r.process.commandLine, r.process.argsCount, r.process.containerId]));
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

test('fuzz: fields of every kind written outside avsc (with defaults, nullable, and wrong values) as avsc writes them, or throwing where it throws', (t) => {
  const json = bundledJson();
  json.fields.push(
    { name: 'flag', type: 'boolean', default: true },
    { name: 'maybeFlag', type: ['null', 'boolean'], default: null },
    { name: 'count', type: 'int', default: -3 },
    { name: 'size', type: ['null', 'long'], default: null },
    { name: 'big', type: 'long', default: 1 },
    { name: 'tags', type: { type: 'array', items: 'string' }, default: ['a', 'é'] },
    { name: 'labels', type: ['null', { type: 'array', items: 'string' }], default: null },
    { name: 'note', type: ['string', 'null'], default: 'n/a' },
  );
  const type = avroType(json);
  const enc = new AvroEncoder(9, type, { slabBytes: 400 });
  t.deepEqual(enc.constantFields, ['host']);
  // mostly a value of the field's own kind (or null, or none: the default), sometimes anything
  const any = fc.oneof(
    fc.constant(undefined), fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.maxSafeInteger(),
    fc.constantFrom(9007199254740990, -9007199254740990, 9007199254740991, 2 ** 31, -(2 ** 31) - 1, 0.5, -0),
    text, fc.array(text, { maxLength: 4 }), fc.array(fc.oneof(text, fc.integer(), fc.constant(null)), { maxLength: 3 }),
  );
  const of = <T>(own: fc.Arbitrary<T>, nullable: boolean): fc.Arbitrary<unknown> => fc.oneof(
    { weight: 12, arbitrary: own },
    { weight: nullable ? 3 : 0, arbitrary: fc.constant(null) },
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: any },
  );
  const int = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  const strings = fc.array(text, { maxLength: 4 });
  const extras = fc.record({
    flag: of(fc.boolean(), false), maybeFlag: of(fc.boolean(), true), count: of(int, false), size: of(long, true),
    big: of(fc.oneof(long, fc.constantFrom(9007199254740990, -9007199254740990)), false), tags: of(strings, false), labels: of(strings, true), note: of(text, true),
  });
  fc.assert(fc.property(fc.array(fc.tuple(recordArb, extras), { minLength: 1, maxLength: 20 }), (pairs) => {
    for (const [r, e] of pairs) {
      const rec = { ...r, ...e };
      let want: Buffer | null = null;
      try {
        want = type.toBuffer(rec);
      } catch {
        want = null;
      }
      if (want === null) {
        t.throws(() => enc.encode(rec as NetTCPConnect));
        continue;
      }
      const body = readWireFrame(enc.encode(rec as NetTCPConnect)).body;
      if (!body.equals(want)) t.is(body.toString('hex'), want.toString('hex'), `record ${JSON.stringify(e)}`);
    }
  }), { numRuns: 300, seed: 9 });
});
