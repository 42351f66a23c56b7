// Local round trips of the codecs (the live broker round trips are in test/publish/codecs.test.ts).
import test from 'ava';
import { lz4Codec, snappyCodec, zstdCodec, zstdAvailable } from '../../producer/sink/codecs.ts';

const payload = Buffer.from(Array.from({ length: 2000 }, (_, i) => `record ${i % 37} example.com 93.184.215.14:443;`).join(''));

for (const [name, make] of [['lz4', lz4Codec], ['snappy', snappyCodec], ['zstd', zstdCodec]] as const) {
  test(`${name} compresses and decompresses`, async (t) => {
    if (name === 'zstd' && !zstdAvailable()) return t.fail('node:zlib has no zstd');
    const codec = make();
    const packed = await codec.compress({ buffer: payload });
    t.true(packed.length < payload.length / 2, `${packed.length} vs ${payload.length}`);
    t.deepEqual(await codec.decompress(packed), payload);
    const empty = await codec.compress({ buffer: Buffer.alloc(0) });
    t.is((await codec.decompress(empty)).length, 0);
  });
}

test('lz4 frames carry the LZ4 frame magic number', async (t) => {
  const packed = await lz4Codec().compress({ buffer: payload });
  t.is(packed.readUInt32LE(0), 0x184d2204);
});

test('lz4 frames: independent blocks, 64 KiB max, valid header checksum; multi-block inputs round trip', async (t) => {
  const big = Buffer.concat(Array.from({ length: 5 }, () => payload)); // > 64 KiB
  const packed = await lz4Codec().compress({ buffer: big });
  t.is(packed[4], 0x60);
  t.is(packed[5], 0x40);
  t.deepEqual(await lz4Codec().decompress(packed), big);
  const random = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 2654435761) >>> 24));
  t.deepEqual(await lz4Codec().decompress(await lz4Codec().compress({ buffer: random })), random);
});
