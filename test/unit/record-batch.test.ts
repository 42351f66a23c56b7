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
import os from 'node:os';
import { installPatches, kafkajsPatched, KAFKAJS_VERSION, nativeCrc32c } from '../../producer/sink/kafkajs-patch.ts';
import type { CachedModule } from '../../producer/sink/kafkajs-patch.ts';
import { registerCodecs } from '../../producer/sink/kafka.ts';

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

/** Like original(), with some of the file's requires (paths relative to kafkajs/src) answered by `overrides`. */
function originalWith<T>(rel: string, overrides: Record<string, unknown>): T {
  const file = path.join(src, rel);
  const req = createRequire(file);
  const byFile = new Map(Object.entries(overrides).map(([r, v]) => [path.join(src, r), v]));
  const localRequire = (id: string): unknown => {
    const resolved = req.resolve(id);
    return byFile.has(resolved) ? byFile.get(resolved) : req(id);
  };
  const m = { exports: {} as unknown };
  new Function('exports', 'require', 'module', '__filename', '__dirname', fs.readFileSync(file, 'utf8'))(m.exports, localRequire, m, file, path.dirname(file));
  return m.exports as T;
}

const kafkajsCrc32C = original<(b: Buffer) => number>('protocol/recordBatch/crc32C/crc32C.js');
const origRecord = original<RecordFn>('protocol/recordBatch/record/v0/index.js');
const origBatch = original<{ RecordBatch: BatchFn }>('protocol/recordBatch/v0/index.js').RecordBatch;
const patchedRecord = require(path.join(src, 'protocol/recordBatch/record/v0/index.js')) as RecordFn;
const patchedBatch = (require(path.join(src, 'protocol/recordBatch/v0/index.js')) as { RecordBatch: BatchFn }).RecordBatch;
const patchedCrc = require(path.join(src, 'protocol/recordBatch/crc32C/index.js')) as (b: Buffer) => number;
type ProduceRequest = (args: object) => { apiKey: number; apiVersion: number; apiName: string; expectResponse(): boolean; encode(): Promise<Encoder> };
type Frame = (args: { correlationId: number; clientId: string; request: ReturnType<ProduceRequest> }) => Promise<Encoder>;
const origProduce = originalWith<ProduceRequest>('protocol/requests/produce/v3/request.js', {
  'protocol/recordBatch/record/v0/index.js': origRecord,
  'protocol/recordBatch/v0/index.js': { RecordBatch: origBatch, MAGIC_BYTE: 2 },
});
const origFrame = original<Frame>('protocol/request.js');
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

test('defensive: another kafkajs version, a missing file, or kafkajs already loaded: nothing is patched', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-kafkajs-'));
  try {
    const fake = path.join(dir, 'kafkajs');
    fs.mkdirSync(path.join(fake, 'src'), { recursive: true });
    fs.writeFileSync(path.join(fake, 'index.js'), 'module.exports = {}');
    fs.writeFileSync(path.join(fake, 'package.json'), JSON.stringify({ name: 'kafkajs', version: '2.3.0' }));
    const cache: Record<string, CachedModule | undefined> = {};
    const other = installPatches(path.join(fake, 'index.js'), cache);
    t.false(other.patched);
    t.regex(other.why, /kafkajs 2\.3\.0 is not 2\.2\.4/);
    fs.writeFileSync(path.join(fake, 'package.json'), JSON.stringify({ name: 'kafkajs', version: KAFKAJS_VERSION }));
    const missing = installPatches(path.join(fake, 'index.js'), cache);
    t.false(missing.patched);
    t.regex(missing.why, /kafkajs has no src/);
    t.deepEqual(Object.keys(cache), []);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
  const main = require.resolve('kafkajs');
  const loaded: Record<string, CachedModule | undefined> = { [path.join(src, 'protocol/request.js')]: {} as CachedModule };
  const before = installPatches(main, loaded);
  t.false(before.patched);
  t.regex(before.why, /loaded before/);
  t.is(Object.keys(loaded).length, 1);
  const fresh: Record<string, CachedModule | undefined> = {};
  t.deepEqual(installPatches(main, fresh), { patched: true, why: '' });
  t.is(Object.keys(fresh).length, 6);
});
