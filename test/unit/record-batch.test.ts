// The one-pass record batch encoder and CRC32C patched into kafkajs
// (producer/sink/record-batch.ts, kafkajs-patch.ts) against kafkajs's own
// modules: the same batches must come out byte for byte.
import test from 'ava';
import fc from 'fast-check';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import '../../producer/sink/kafkajs-patch.ts'; // before kafkajs, as in production
import kafkajs from 'kafkajs';
import { kafkajsPatched, nativeCrc32c } from '../../producer/sink/kafkajs-patch.ts';
import { registerCodecs } from '../../producer/sink/codecs.ts';

const require = createRequire(import.meta.url);
const src = path.join(path.dirname(require.resolve('kafkajs')), 'src');

type Encoder = { buffer: Buffer };
type RecordFn = (args: object) => unknown;
type BatchFn = (args: object) => Promise<Encoder>;

/** Loads one of kafkajs's files afresh, bypassing the require cache the patch filled. */
function original<T>(rel: string): T {
  const file = path.join(src, rel);
  const NodeModule = require('node:module') as {
    new (id: string): { filename: string; paths: string[]; exports: unknown; _compile(code: string, file: string): void };
    _nodeModulePaths(dir: string): string[];
  };
  const m = new NodeModule(file);
  m.filename = file;
  m.paths = NodeModule._nodeModulePaths(path.dirname(file));
  m._compile(fs.readFileSync(file, 'utf8'), file);
  return m.exports as T;
}

const kafkajsCrc32C = original<(b: Buffer) => number>('protocol/recordBatch/crc32C/crc32C.js');
const origRecord = original<RecordFn>('protocol/recordBatch/record/v0/index.js');
const origBatch = original<{ RecordBatch: BatchFn }>('protocol/recordBatch/v0/index.js').RecordBatch;
const patchedRecord = require(path.join(src, 'protocol/recordBatch/record/v0/index.js')) as RecordFn;
const patchedBatch = (require(path.join(src, 'protocol/recordBatch/v0/index.js')) as { RecordBatch: BatchFn }).RecordBatch;
const patchedCrc = require(path.join(src, 'protocol/recordBatch/crc32C/index.js')) as (b: Buffer) => number;
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

test('the patch is installed (kafkajs 2.2.4, loaded after the patch)', (t) => {
  t.true(kafkajsPatched());
  t.not(origRecord, patchedRecord);
  t.not(origBatch, patchedBatch);
});

test('CRC32C: RFC 3720 B.4 vectors, and the same as kafkajs\'s on random buffers', (t) => {
  const crc = nativeCrc32c();
  t.truthy(crc, '@node-rs/crc32 loads here');
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
