import test from 'ava';
import fc from 'fast-check';
import { INITIAL_SLOTS, RecordQueue } from '../../producer/sink/queue.ts';

const val = (n: number, size = 10): Buffer => Buffer.alloc(size, n & 0xff);
const ids = (msgs: { timestamp: string }[]): number[] => msgs.map((m) => Number(m.timestamp));

test('FIFO order across wrap-around of the ring', (t) => {
  const q = new RecordQueue({ maxRecords: 4, maxBytes: 1e6 });
  let next = 0;
  const seen: number[] = [];
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 3; i++) t.true(q.push(val(next), 'k', next++, 0));
    seen.push(...ids(q.take(2, 1e6).messages));
    seen.push(...ids(q.take(1, 1e6).messages));
  }
  t.deepEqual(seen, Array.from({ length: 30 }, (_, i) => i));
  t.is(q.length, 0);
  t.is(q.bytes, 0);
});

test('the slots start small and double while full, up to maxRecords, keeping FIFO order from a wrapped head', (t) => {
  const max = 3 * INITIAL_SLOTS + 5; // not a power of two: the last step is cut to it
  const q = new RecordQueue({ maxRecords: max, maxBytes: 1e9 });
  t.is(q.slots, INITIAL_SLOTS, 'a quiet queue holds only the first slots');
  let next = 0;
  let expected = 0;
  const order: boolean[] = [];
  // Wrap the head first, so that the growth copies a ring that crosses its end.
  for (let i = 0; i < INITIAL_SLOTS; i++) q.push(val(next), null, next++, 0);
  for (const m of q.take(INITIAL_SLOTS / 2, 1e9).messages) order.push(Number(m.timestamp) === expected++);
  const sizes = [q.slots];
  while (q.push(val(next), null, next, 0)) {
    next++;
    if (q.slots !== sizes.at(-1)) sizes.push(q.slots);
  }
  t.deepEqual(sizes, [INITIAL_SLOTS, 2 * INITIAL_SLOTS, max]);
  t.is(q.length, max);
  t.is(q.drops.queue_full_records, 1);
  for (let m = q.take(97, 1e9).messages; m.length > 0; m = q.take(97, 1e9).messages) {
    for (const r of m) order.push(Number(r.timestamp) === expected++);
  }
  t.is(expected, next);
  t.true(order.every(Boolean), 'records came out in the order they went in');
  t.is(q.bytes, 0);
  t.is(q.slots, max, 'the slots stay at the peak');
});

test('drop-newest: record bound keeps the oldest and counts queue_full_records', (t) => {
  const q = new RecordQueue({ maxRecords: 3, maxBytes: 1e6, policy: 'drop-newest' });
  const accepted = [0, 1, 2, 3, 4].map((i) => q.push(val(i), null, i, 0));
  t.deepEqual(accepted, [true, true, true, false, false]);
  t.is(q.drops.queue_full_records, 2);
  t.deepEqual(ids(q.take(10, 1e6).messages), [0, 1, 2]);
});

test('drop-oldest: record bound keeps the newest and counts queue_full_records', (t) => {
  const q = new RecordQueue({ maxRecords: 3, maxBytes: 1e6, policy: 'drop-oldest' });
  for (let i = 0; i < 5; i++) t.true(q.push(val(i), null, i, 0));
  t.is(q.drops.queue_full_records, 2);
  t.deepEqual(ids(q.take(10, 1e6).messages), [2, 3, 4]);
});

test('byte bound counts value + key; drop-newest counts queue_full_bytes', (t) => {
  const q = new RecordQueue({ maxRecords: 100, maxBytes: 50, policy: 'drop-newest' });
  t.true(q.push(val(0, 18), 'ab', 0, 0)); // 20
  t.true(q.push(val(1, 18), 'ab', 1, 0)); // 40
  t.false(q.push(val(2, 9), 'ab', 2, 0)); // 51 > 50
  t.true(q.push(val(3, 8), 'ab', 3, 0)); // 50
  t.is(q.bytes, 50);
  t.is(q.drops.queue_full_bytes, 1);
  t.deepEqual(ids(q.take(10, 1e6).messages), [0, 1, 3]);
});

test('drop-oldest makes room by bytes, several at a time if needed', (t) => {
  const q = new RecordQueue({ maxRecords: 100, maxBytes: 50, policy: 'drop-oldest' });
  for (let i = 0; i < 5; i++) q.push(val(i, 10), null, i, 0); // 50 bytes
  t.true(q.push(val(9, 25), null, 9, 0)); // needs 25: drops 0,1,2
  t.is(q.drops.queue_full_bytes, 3);
  t.is(q.bytes, 45);
  t.deepEqual(ids(q.take(10, 1e6).messages), [3, 4, 9]);
});

test('a record larger than maxBytes is record_too_large under either policy', (t) => {
  for (const policy of ['drop-newest', 'drop-oldest'] as const) {
    const q = new RecordQueue({ maxRecords: 10, maxBytes: 20, policy });
    q.push(val(0, 5), null, 0, 0);
    t.false(q.push(val(1, 21), null, 1, 0));
    t.is(q.drops.record_too_large, 1);
    t.is(q.length, 1, policy);
  }
});

test('take respects maxRecords and maxBytes but always returns at least one', (t) => {
  const q = new RecordQueue({ maxRecords: 100, maxBytes: 1e6 });
  for (let i = 0; i < 10; i++) q.push(val(i, 10), null, i, i * 1.5);
  t.is(q.headEnqueuedAt, 0);
  const a = q.take(3, 1e6);
  t.deepEqual(ids(a.messages), [0, 1, 2]);
  t.is(a.bytes, 30);
  t.is(q.headEnqueuedAt, 4.5);
  t.deepEqual(ids(q.take(100, 25).messages), [3, 4]);
  t.deepEqual(ids(q.take(100, 5).messages), [5]); // oversize head still goes alone
  t.is(q.length, 4);
  t.is(q.bytes, 40);
  t.is(q.clear(), 4);
  t.is(q.headEnqueuedAt, -1);
});

test('messages carry key, value and the event time as a string', (t) => {
  const q = new RecordQueue({ maxRecords: 2, maxBytes: 100 });
  const v = val(7, 3);
  q.push(v, 'host:42', 1735787045123, 0);
  const [m] = q.take(1, 100).messages;
  t.is(m?.key, 'host:42');
  t.is(m?.value, v);
  t.is(m?.timestamp, '1735787045123');
});

test('property: bounds always hold, and what comes out is a subsequence in order', (t) => {
  fc.assert(fc.property(
    fc.constantFrom('drop-newest' as const, 'drop-oldest' as const),
    fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 200 }),
    fc.array(fc.oneof(fc.integer({ min: 0, max: 40 }).map((s) => ({ push: s })), fc.integer({ min: 1, max: 8 }).map((n) => ({ take: n }))), { maxLength: 200 }),
    (policy, maxRecords, maxBytes, ops) => {
      const q = new RecordQueue({ maxRecords, maxBytes, policy });
      let seq = 0;
      let accepted = 0;
      const out: number[] = [];
      for (const op of ops) {
        if ('push' in op) { if (q.push(Buffer.alloc(op.push), null, seq++, 0)) accepted++; }
        else out.push(...ids(q.take(op.take, 1e9).messages));
        if (q.length > maxRecords || q.bytes > maxBytes) return false;
      }
      out.push(...ids(q.take(1e9, 1e9).messages));
      const dropped = q.drops.queue_full_records + q.drops.queue_full_bytes + q.drops.record_too_large;
      for (let i = 1; i < out.length; i++) if ((out[i] as number) <= (out[i - 1] as number)) return false;
      return out.length + dropped === seq && (policy === 'drop-oldest' || out.length === accepted);
    },
  ));
  t.pass();
});
