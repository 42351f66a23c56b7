// Event ids: random (version 4) UUIDs as text, like crypto.randomUUID() but
// cheaper per record. randomUUID() buffers its random bytes too, but builds
// each id by concatenating 20 pieces: a tree of strings that the GC collects
// and the encoder flattens. Here the random bytes of BATCH ids come from one
// randomFillSync() call (the CSPRNG randomUUID uses), are formatted with a
// hex table into one latin1 buffer, become one string, and each id is a
// 36-character slice of it (a small object pointing into the batch's string,
// which stays alive while one of its ids does: 18 KiB).
import { randomFillSync } from 'node:crypto';

const BATCH = 512;
const UUID_LEN = 36;

/** Two ASCII hex digits of each byte value, first digit in the low byte. */
const HEX2 = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  const s = i.toString(16).padStart(2, '0');
  HEX2[i] = s.charCodeAt(0) | (s.charCodeAt(1) << 8);
}

const random = Buffer.allocUnsafe(BATCH * 16);
const text = Buffer.allocUnsafe(BATCH * UUID_LEN);
let batch = '';
let next = BATCH;

function refill(): void {
  randomFillSync(random);
  let o = 0;
  for (let r = 0; r < random.length; r += 16) {
    random[r + 6] = (random[r + 6]! & 0x0f) | 0x40; // version 4
    random[r + 8] = (random[r + 8]! & 0x3f) | 0x80; // variant 10
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) text[o++] = 0x2d; // '-'
      const h = HEX2[random[r + i]!]!;
      text[o++] = h & 0xff;
      text[o++] = h >> 8;
    }
  }
  batch = text.toString('latin1');
  next = 0;
}

/** A random version 4 UUID, lower-case text (what crypto.randomUUID() returns). */
export function newEventId(): string {
  if (next === BATCH) refill();
  const at = next * UUID_LEN;
  next++;
  return batch.slice(at, at + UUID_LEN);
}
