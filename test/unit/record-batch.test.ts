// The kafkajs patch (patches/kafkajs+2.2.4.patch, applied at install; see
// producer/sink/kafkajs-patch.ts): one-pass record batches, CRC32C from
// @node-rs/crc32, the Produce request assembled in one buffer. The modules
// kafkajs loads (its installed, patched files) against kafkajs's own (the
// patch reversed, test/helpers/kafkajs-pristine.ts): the same batches must
// come out byte for byte.
import test from 'ava';
import fc from 'fast-check';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import kafkajs from 'kafkajs';
import os from 'node:os';
import { kafkajsPatched, kafkajsPatchStatus, KAFKAJS_VERSION, PATCHED_FILES } from '../../producer/sink/kafkajs-patch.ts';
import { registerCodecs } from '../../producer/sink/kafka.ts';
import { KAFKAJS_SRC as src, pristine, pristineText } from '../helpers/kafkajs-pristine.ts';

const require = createRequire(import.meta.url);

type Encoder = { buffer: Buffer };
type RecordFn = (args: object) => unknown;
type BatchFn = (args: object) => Promise<Encoder>;

const kafkajsCrc32C = require(path.join(src, 'protocol/recordBatch/crc32C/crc32C.js')) as (b: Buffer) => number;
const origCrc = pristine<(b: Buffer) => number>('protocol/recordBatch/crc32C/index.js');
const origRecord = pristine<RecordFn>('protocol/recordBatch/record/v0/index.js');
const origBatch = pristine<{ RecordBatch: BatchFn }>('protocol/recordBatch/v0/index.js').RecordBatch;
const patchedRecord = require(path.join(src, 'protocol/recordBatch/record/v0/index.js')) as RecordFn;
const patchedBatch = (require(path.join(src, 'protocol/recordBatch/v0/index.js')) as { RecordBatch: BatchFn }).RecordBatch;
const patchedCrc = require(path.join(src, 'protocol/recordBatch/crc32C/index.js')) as (b: Buffer) => number;
type ProduceRequest = (args: object) => { apiKey: number; apiVersion: number; apiName: string; expectResponse(): boolean; encode(): Promise<Encoder> };
type Frame = (args: { correlationId: number; clientId: string; request: ReturnType<ProduceRequest> }) => Promise<Encoder>;
const origProduce = pristine<ProduceRequest>('protocol/requests/produce/v3/request.js');
const origFrame = pristine<Frame>('protocol/request.js');
const patchedProduce = require(path.join(src, 'protocol/requests/produce/v3/request.js')) as ProduceRequest;
const patchedProduceV7 = require(path.join(src, 'protocol/requests/produce/v7/request.js')) as ProduceRequest;
const patchedFrame = require(path.join(src, 'protocol/request.js')) as Frame;
const Long = require(path.join(src, 'utils/long.js')) as { fromValue(v: unknown): unknown };

registerCodecs();

interface Msg { key?: Buffer | string | null; value: Buffer | string | null; headers?: Record<string, unknown>; timestamp?: string }
interface BatchOpts { compression?: number; transactional?: boolean; producerId?: unknown; producerEpoch?: number; firstSequence?: number; now?: number }

/** kafkajs's produce v3 partitionsEncoder up to RecordBatch, with the given Record/RecordBatch. */
async function encode(record: RecordFn, batch: BatchFn, messages: Msg[], o: BatchOpts = {}): Promise<Buffer> {
  const dateNow = o.now ?? 1_764_300_000_000;
  const ts = messages.map((m) => m.timestamp).filter((t) => t != null).sort();
  const timestamps = ts.length === 0 ? [dateNow] : ts;
  const firstTimestamp = timestamps[0] as unknown as number;
  const maxTimestamp = timestamps[timestamps.length - 1];
  const records = messages.map((message, i) =>
    record({ ...message, offsetDelta: i, timestampDelta: ((message.timestamp as unknown as number) || dateNow) - firstTimestamp }),
  );
  const enc = await batch({
    compression: o.compression ?? 0,
    records,
    firstTimestamp,
    maxTimestamp,
    producerId: o.producerId ?? Long.fromValue(-1),
    producerEpoch: o.producerEpoch ?? 0,
    firstSequence: o.firstSequence ?? 0,
    transactional: o.transactional ?? false,
    lastOffsetDelta: records.length - 1,
  });
  return Buffer.from(enc.buffer);
}

async function same(t: import('ava').ExecutionContext, messages: Msg[], o: BatchOpts = {}): Promise<Buffer> {
  const a = await encode(origRecord, origBatch, messages, o);
  const b = await encode(patchedRecord, patchedBatch, messages, o);
  t.true(a.equals(b), `${a.length} vs ${b.length} bytes, first difference at ${a.findIndex((x, i) => x !== b[i])}`);
  return b;
}

const value = (i: number, n = 266): Buffer => {
  const b = Buffer.alloc(n);
  for (let j = 0; j < n; j++) b[j] = (i * 31 + j * 7) & 0xff;
  return b;
};

test('the patch is installed (kafkajs 2.2.4), and its modules are what kafkajs loads', (t) => {
  t.true(kafkajsPatched());
  t.not(origRecord, patchedRecord);
  t.not(origBatch, patchedBatch);
  // kafkajs's own way to a Produce request (producer -> requests/produce/index.js -> v7 -> ... -> v3)
  const produce = require(path.join(src, 'protocol/requests/produce/index.js')) as { protocol(o: { version: number }): (a: object) => { request: { apiVersion: number } } };
  t.is(produce.protocol({ version: 7 })({ acks: -1, timeout: 1, topicData: [] }).request.apiVersion, 7);
  const loaded = (rel: string): unknown => require.cache[path.join(src, rel)]?.exports;
  t.is(loaded('protocol/requests/produce/v3/request.js'), patchedProduce);
  t.is(loaded('protocol/recordBatch/v0/index.js'), require(path.join(src, 'protocol/recordBatch/v0/index.js')));
  t.is(loaded('protocol/recordBatch/record/v0/index.js'), patchedRecord);
  t.is(loaded('protocol/recordBatch/crc32C/index.js'), patchedCrc);
});

test('CRC32C: RFC 3720 B.4 vectors, and the same as kafkajs\'s on random buffers', (t) => {
  const { crc32c } = require('@node-rs/crc32') as { crc32c: (input: Uint8Array) => number };
  t.is(crc32c(Buffer.alloc(32)), 0x8a9136aa, '@node-rs/crc32 loads here');
  t.regex(patchedCrc.toString(), /crc32c\(buffer\)/, 'the patched module uses it, not kafkajs\'s JavaScript CRC');
  const asc = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  const vectors: [Buffer, number][] = [
    [Buffer.alloc(32), 0x8a9136aa],
    [Buffer.alloc(32, 0xff), 0x62a8ab43],
    [asc, 0x46dd794e],
    [Buffer.from(asc).reverse(), 0x113fdb5c],
    [Buffer.from('123456789'), 0xe3069283],
    [Buffer.alloc(0), 0],
  ];
  for (const [buf, want] of vectors) {
    t.is(patchedCrc(buf), want);
    t.is(origCrc(buf), want);
    t.is(kafkajsCrc32C(buf), want);
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 5000 }), fc.nat(7), (bytes, skip) => {
      const buf = Buffer.from(bytes).subarray(Math.min(skip, bytes.length)); // unaligned views too
      return patchedCrc(buf) === kafkajsCrc32C(buf);
    }),
    { numRuns: 300 },
  );
});

test('10,000 ~266-byte values, no keys: same bytes as kafkajs', async (t) => {
  const messages = Array.from({ length: 10_000 }, (_, i) => ({ value: value(i) }));
  const out = await same(t, messages);
  t.true(out.length > 10_000 * 266);
});

test('keys, tombstones, strings, unicode, headers (single, arrays, Buffers): same bytes as kafkajs', async (t) => {
  const messages: Msg[] = [
    { key: Buffer.from('k1'), value: value(1, 10) },
    { key: 'clé ünïcode ✓', value: 'välue 🚀' },
    { key: null, value: null },
    { key: Buffer.alloc(0), value: Buffer.alloc(0) },
    { value: value(2, 300), headers: { a: 'b', 'ü': Buffer.from([1, 2, 3]) } },
    { value: 'x', headers: { multi: ['1', '22', Buffer.from('333')], empty: '' } },
    { value: value(3, 20_000), headers: {} },
  ];
  await same(t, messages);
});

test('timestamps: per-message, large and negative deltas, lexicographic order as kafkajs sorts', async (t) => {
  const base = 1_764_300_000_000;
  await same(t, [
    { value: 'a', timestamp: String(base + 5) },
    { value: 'b', timestamp: String(base) },
    { value: 'c' }, // Date.now()-like default, far from the others
    { value: 'd', timestamp: String(base + 2 ** 31) }, // needs a 64-bit varlong
    { value: 'e', timestamp: String(base - 2 ** 33) },
  ]);
  await same(t, [{ value: 'x', timestamp: '5' }, { value: 'y', timestamp: '40' }]);
});

test('batch header fields: transactional, producer id/epoch, sequence', async (t) => {
  const messages = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: value(i, 100) }));
  await same(t, messages, { transactional: true, producerId: Long.fromValue('123456789012'), producerEpoch: 7, firstSequence: 2_000_000_000 });
  await same(t, messages, { producerId: 42 });
  await same(t, []);
});

for (const [name, type] of Object.entries({ gzip: kafkajs.CompressionTypes.GZIP, snappy: kafkajs.CompressionTypes.Snappy, lz4: kafkajs.CompressionTypes.LZ4, zstd: kafkajs.CompressionTypes.ZSTD })) {
  test(`${name}: same bytes as kafkajs`, async (t) => {
    const messages: Msg[] = Array.from({ length: 2000 }, (_, i) => ({
      key: i % 3 === 0 ? null : `key-${i % 17}`,
      value: value(i % 50),
      ...(i % 5 === 0 ? { headers: { h: `v${i}` } } : {}),
    }));
    await same(t, messages, { compression: type });
  });
}

test('errors where kafkajs throws: null header value, null headers', async (t) => {
  for (const m of [{ value: 'x', headers: { h: null } }, { value: 'x', headers: null }] as unknown as Msg[]) {
    const a = await encode(origRecord, origBatch, [m]).catch((e: unknown) => e);
    const b = await encode(patchedRecord, patchedBatch, [m]).catch((e: unknown) => e);
    t.true(a instanceof TypeError);
    t.true(b instanceof TypeError);
  }
});

test('property: random messages encode to the same bytes as kafkajs', async (t) => {
  const bytesOrString = fc.oneof(fc.uint8Array({ maxLength: 400 }).map((u) => Buffer.from(u)), fc.string({ maxLength: 60 }), fc.constant(null));
  const msg = fc.record(
    {
      key: bytesOrString,
      value: bytesOrString,
      headers: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.oneof(fc.string({ maxLength: 20 }), fc.uint8Array({ maxLength: 20 }).map((u) => Buffer.from(u)), fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 })), { maxKeys: 3 }),
      timestamp: fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }).map(String),
    },
    { requiredKeys: ['value'] },
  );
  await fc.assert(
    fc.asyncProperty(fc.array(msg, { maxLength: 60 }), fc.constantFrom(0, 1), async (messages, compression) => {
      const a = await encode(origRecord, origBatch, messages as Msg[], { compression });
      const b = await encode(patchedRecord, patchedBatch, messages as Msg[], { compression });
      return a.equals(b);
    }),
    { numRuns: 200 },
  );
  t.pass();
});

/** A whole framed Produce request, kafkajs's vs the patched one (Date.now pinned: both read it). */
async function sameRequest(t: import('ava').ExecutionContext, args: object): Promise<void> {
  const now = Date.now;
  Date.now = () => 1_764_300_000_123;
  try {
    const a = origProduce(args);
    const b = patchedProduce(args);
    t.deepEqual([b.apiKey, b.apiVersion, b.apiName, b.expectResponse()], [a.apiKey, a.apiVersion, a.apiName, a.expectResponse()]);
    const fa = (await origFrame({ correlationId: 42, clientId: 'conntrail', request: a })).buffer;
    const fb = (await patchedFrame({ correlationId: 42, clientId: 'conntrail', request: b })).buffer;
    t.true(fa.equals(fb), `${fa.length} vs ${fb.length} bytes, first difference at ${fa.findIndex((x, i) => x !== fb[i])}`);
    // each patched half with kafkajs's other half: the patched payload is an Encoder like any other
    t.true((await origFrame({ correlationId: 42, clientId: 'conntrail', request: patchedProduce(args) })).buffer.equals(fa));
    t.true((await patchedFrame({ correlationId: 42, clientId: 'conntrail', request: origProduce(args) })).buffer.equals(fa));
  } finally {
    Date.now = now;
  }
}

test('Produce request, framed: several topics and partitions, same bytes as kafkajs', async (t) => {
  const msgs = (n: number, p: number): Msg[] => Array.from({ length: n }, (_, i) => ({
    key: i % 4 === 0 ? null : `k${p}-${i}`,
    value: value(i + p, 100 + (i % 7)),
    ...(i % 3 === 0 ? { timestamp: String(1_764_300_000_000 + ((i * 7919) % 5000)) } : {}),
    ...(i % 5 === 0 ? { headers: { trace: `t${i}`, bin: Buffer.from([i & 0xff]) } } : {}),
  }));
  const topicData = [
    { topic: 'conntrail', partitions: [{ partition: 0, messages: msgs(300, 0), firstSequence: 5 }, { partition: 2, messages: msgs(1, 2), firstSequence: 0 }] },
    { topic: 'other-ü', partitions: [{ partition: 1, messages: msgs(40, 1) }] },
  ];
  for (const compression of [0, kafkajs.CompressionTypes.GZIP, kafkajs.CompressionTypes.LZ4]) {
    await sameRequest(t, { acks: -1, timeout: 30000, compression, topicData });
    await sameRequest(t, { acks: 1, timeout: 1000, compression, topicData, transactionalId: 'tx-1', producerId: Long.fromValue('99999999999'), producerEpoch: 3 });
  }
  await sameRequest(t, { acks: 0, timeout: 1000, topicData: [] });
  t.is(patchedProduceV7({ acks: -1, timeout: 1, topicData: [] }).apiVersion, 7);
});

test('Produce request: timestamps as kafkajs orders them (strings, numbers, missing), property', async (t) => {
  const ts = fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 2_000_000_000_000 }), fc.integer({ min: 0, max: 2_000_000_000_000 }).map(String));
  await fc.assert(
    fc.asyncProperty(fc.array(ts, { maxLength: 30 }), async (stamps) => {
      const messages = stamps.map((timestamp, i) => (timestamp === undefined ? { value: `v${i}` } : { value: `v${i}`, timestamp }));
      const now = Date.now;
      Date.now = () => 1_764_300_000_123;
      try {
        const args = { acks: -1, timeout: 1, topicData: [{ topic: 't', partitions: [{ partition: 0, messages }] }] };
        const a = (await origProduce(args).encode()).buffer;
        const b = (await patchedProduce(args).encode()).buffer;
        return a.equals(b);
      } finally {
        Date.now = now;
      }
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('defensive: another kafkajs version, a missing file, or a file without the patch: not patched, and why', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-kafkajs-'));
  try {
    const fake = path.join(dir, 'kafkajs');
    fs.mkdirSync(path.join(fake, 'src'), { recursive: true });
    fs.writeFileSync(path.join(fake, 'index.js'), 'module.exports = {}');
    fs.writeFileSync(path.join(fake, 'package.json'), JSON.stringify({ name: 'kafkajs', version: '2.3.0' }));
    const other = kafkajsPatchStatus(path.join(fake, 'index.js'));
    t.false(other.patched);
    t.regex(other.why, /kafkajs 2\.3\.0 is not 2\.2\.4/);
    fs.writeFileSync(path.join(fake, 'package.json'), JSON.stringify({ name: 'kafkajs', version: KAFKAJS_VERSION }));
    const missing = kafkajsPatchStatus(path.join(fake, 'index.js'));
    t.false(missing.patched);
    t.regex(missing.why, /kafkajs has no src/);
    // kafkajs as published (every file the patch changes, reversed)
    for (const rel of PATCHED_FILES) {
      fs.mkdirSync(path.dirname(path.join(fake, 'src', rel)), { recursive: true });
      fs.writeFileSync(path.join(fake, 'src', rel), pristineText(rel));
    }
    const unpatched = kafkajsPatchStatus(path.join(fake, 'index.js'));
    t.false(unpatched.patched);
    t.regex(unpatched.why, /src\/producer\/groupMessagesPerPartition\.js is not patched/);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
  t.deepEqual(kafkajsPatchStatus(), { patched: true, why: '' });
});
