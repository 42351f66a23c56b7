// The disk spool on real files in a temporary directory: write, read back,
// acknowledge, recover after a "crash" (a Spool dropped without close(), or
// files damaged by hand), full-spool policies, the cursor's atomic update.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { Spool, SpoolError } from '../../producer/sink/spool/spool.ts';
import type { SpoolOptions } from '../../producer/sink/spool/spool.ts';
import { CURSOR_FILE, readCursor, writeCursor } from '../../producer/sink/spool/cursor.ts';
import { FRAME_HEADER_BYTES, FrameWriter, readFrame, SEGMENT_HEADER_BYTES } from '../../producer/sink/spool/frame.ts';
import type { LoggerLike } from '../../producer/log.ts';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-spool-'));
}

function opts(dir: string, over: Partial<SpoolOptions> = {}): SpoolOptions {
  return { directory: dir, maxBytes: 1 << 20, segmentBytes: 4096, policy: 'drop-newest', fsync: 'never', fsyncIntervalMs: 1000, ...over };
}

/** A logger that keeps the lines at warn and error. */
function recorder(): LoggerLike & { lines: string[] } {
  const lines: string[] = [];
  const keep = (o: object, m?: string): void => { lines.push(`${m ?? ''} ${JSON.stringify(o)}`); };
  return { lines, debug: () => {}, info: () => {}, warn: keep, error: keep };
}

const rec = (i: number): { value: Buffer; key: string; ts: number } => ({ value: Buffer.from(`record-${i}-${'x'.repeat(i % 37)}`), key: `k${i % 5}`, ts: 1_700_000_000_000 + i });

/** Writes records [from, to) in bursts of `burst`; returns how many were accepted. */
function write(s: Spool, from: number, to: number, burst = 10): number {
  let accepted = 0;
  for (let i = from; i < to; i += burst) {
    s.begin();
    for (let j = i; j < Math.min(to, i + burst); j++) {
      const r = rec(j);
      s.add(r.value, r.key, r.ts);
    }
    accepted += s.commit();
  }
  return accepted;
}

/** Reads everything on disk only; returns the record numbers (from the value text). */
function readAll(s: Spool): number[] {
  const out: number[] = [];
  s.read((value, key, ts) => {
    const n = Number(/^record-(\d+)-/.exec(value.toString())?.[1]);
    if (key !== `k${n % 5}` || ts !== 1_700_000_000_000 + n) throw new Error(`record ${n} read back wrong`);
    out.push(n);
    return true;
  });
  return out;
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);
const segments = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.seg')).sort();

test('frames round-trip, and one bad byte anywhere in a frame is detected', (t) => {
  const w = new FrameWriter();
  w.add(Buffer.from('value'), 'key', 42.5);
  w.add(Buffer.from(''), null, 7);
  const b = Buffer.from(w.bytes());
  const a = readFrame(b, 0);
  t.like(a, { kind: 'record', key: 'key', timestampMs: 42.5 });
  if (a.kind !== 'record') return;
  t.is(a.value.toString(), 'value');
  t.like(readFrame(b, a.size), { kind: 'record', key: null, timestampMs: 7 });
  for (let i = 0; i < a.size; i++) {
    const c = Buffer.from(b);
    c[i] = (c[i] as number) ^ 0x40;
    t.not(readFrame(c, 0).kind, 'record', `byte ${i} flipped`);
  }
  t.like(readFrame(b, 0, 5), { kind: 'partial' });
});

test('records written and never acknowledged are read back in order after a crash, across segments', (t) => {
  const dir = tmpDir();
  const s = Spool.open(opts(dir));
  t.is(write(s, 0, 500), 500);
  t.true(segments(dir).length > 3, 'several segments');
  // crash: no close(), no cursor; the lock names this (live) process, so it is removed as a dead one's would be
  fs.rmSync(path.join(dir, 'lock'));
  const r = Spool.open(opts(dir));
  t.is(r.stats().replayed, 500);
  t.deepEqual(readAll(r), range(0, 500));
  t.is(r.diskOnly, 0);
  r.close();
});

test('spilling: the records the memory queue did not take are read back after it, in order, then new ones', (t) => {
  const s = Spool.open(opts(tmpDir()));
  s.begin();
  for (let i = 0; i < 10; i++) s.add(rec(i).value, rec(i).key, rec(i).ts);
  t.is(s.commit(), 10);
  s.markRead(4); // the queue took 0..3
  t.is(s.diskOnly, 6);
  write(s, 10, 300); // spilling: disk only
  const got: number[] = [];
  s.read((v) => { got.push(Number(/^record-(\d+)-/.exec(v.toString())?.[1])); return got.length < 50; });
  t.deepEqual(got, range(4, 54), 'stops when refused, the refused record is read again next time');
  t.deepEqual(readAll(s), range(53, 300));
  t.is(s.diskOnly, 0);
  s.close();
});

test('acknowledged records are not sent again; fully acknowledged segments are deleted; the cursor survives a restart', (t) => {
  const dir = tmpDir();
  const s = Spool.open(opts(dir));
  write(s, 0, 400);
  const before = segments(dir).length;
  t.deepEqual(readAll(s), range(0, 400));
  s.ack(250);
  t.true(segments(dir).length < before, 'acknowledged segments deleted');
  s.close();
  t.true(fs.existsSync(path.join(dir, CURSOR_FILE)));
  const r = Spool.open(opts(dir));
  t.is(r.stats().replayed, 150);
  t.deepEqual(readAll(r), range(250, 400));
  r.ack(r.writeSeq);
  r.close();
  const again = Spool.open(opts(dir));
  t.is(again.stats().replayed, 0);
  t.is(again.stats().segments, 1, 'only the new, empty segment');
  again.close();
});

test('a torn last write is cut at the last whole record, reported once, counted', (t) => {
  const dir = tmpDir();
  const s = Spool.open(opts(dir, { segmentBytes: 1 << 20 }));
  write(s, 0, 20);
  s.close();
  const seg = path.join(dir, segments(dir)[0] as string);
  const size = fs.statSync(seg).size;
  fs.truncateSync(seg, size - 5);
  const log = recorder();
  const r = Spool.open(opts(dir, { segmentBytes: 1 << 20 }), log);
  t.deepEqual(readAll(r), range(0, 19));
  t.is(r.drops.spool_corrupt, 1);
  t.is(log.lines.length, 1);
  t.regex(log.lines[0] as string, /torn write/);
  t.true(fs.statSync(seg).size < size - 5, 'cut to the last whole record');
  r.close();
  const again = Spool.open(opts(dir, { segmentBytes: 1 << 20 }), recorder());
  t.is(again.drops.spool_corrupt, 0, 'not reported twice');
  again.close();
});

test('a bad CRC in one segment skips the rest of that segment only; later segments are read', (t) => {
  const dir = tmpDir();
  const s = Spool.open(opts(dir));
  write(s, 0, 300);
  s.close();
  const segs = segments(dir);
  const first = path.join(dir, segs[0] as string);
  const b = fs.readFileSync(first);
  // the third record's value: after the header, two frames, and into the third frame's body
  let o = SEGMENT_HEADER_BYTES;
  for (let i = 0; i < 2; i++) o += FRAME_HEADER_BYTES + b.readUInt32BE(o);
  b[o + FRAME_HEADER_BYTES + 14] = (b[o + FRAME_HEADER_BYTES + 14] as number) ^ 0xff;
  fs.writeFileSync(first, b);
  const log = recorder();
  const r = Spool.open(opts(dir), log);
  const got = readAll(r);
  t.deepEqual(got.slice(0, 2), [0, 1]);
  const inFirst = (b.length - SEGMENT_HEADER_BYTES) / (o - SEGMENT_HEADER_BYTES) * 2;
  t.true(got.length > 300 - inFirst - 2, `later segments read (${got.length} records)`);
  t.deepEqual(got.slice(2), range(300 - got.length + 2, 300), 'from the next segment on, every record in order');
  t.true(r.drops.spool_corrupt >= 1);
  t.is(log.lines.length, 1, 'one line');
  t.regex(log.lines[0] as string, /CRC mismatch/);
  t.true(r.stats().corruptBytes > 0);
  r.close();
});

test('a segment with a truncated header, and one that cannot be read, are skipped and counted, never a crash', (t) => {
  const dir = tmpDir();
  const s = Spool.open(opts(dir));
  write(s, 0, 300);
  s.close();
  const segs = segments(dir);
  fs.writeFileSync(path.join(dir, segs[0] as string), Buffer.from('CTS'));
  // a directory where a segment file should be: open() fails (EISDIR) as for a permission error
  const unreadable = path.join(dir, segs[1] as string);
  fs.rmSync(unreadable);
  fs.mkdirSync(unreadable);
  const log = recorder();
  const r = Spool.open(opts(dir), log);
  const got = readAll(r);
  t.true(got.length > 0 && got.length < 300);
  t.deepEqual(got, range(300 - got.length, 300));
  t.is(r.drops.spool_corrupt, 2);
  t.is(log.lines.length, 2);
  t.regex(log.lines.join('\n'), /bad header/);
  t.regex(log.lines.join('\n'), /unreadable/);
  r.close();
});

test('full spool, drop-newest: new records are refused and counted; what was accepted is kept', (t) => {
  const dir = tmpDir();
  const s = Spool.open(opts(dir, { maxBytes: 8192, segmentBytes: 4096 }));
  const accepted = write(s, 0, 1000);
  t.true(accepted > 50 && accepted < 1000);
  t.is(s.drops.spool_full, 1000 - accepted);
  t.true(s.stats().bytes <= 8192);
  const got = readAll(s);
  t.is(got.length, accepted);
  t.deepEqual(got.slice(0, 50), range(0, 50), 'the first records, which fitted');
  t.deepEqual(got, [...got].sort((a, b) => a - b), 'in order');
  s.close();
});

test('full spool, drop-oldest: the oldest segment goes, its unread records counted; the newest are kept', (t) => {
  const dir = tmpDir();
  const s = Spool.open(opts(dir, { maxBytes: 8192, segmentBytes: 4096, policy: 'drop-oldest' }));
  t.is(write(s, 0, 1000), 1000);
  t.true(s.stats().bytes <= 8192);
  const got = readAll(s);
  t.is(s.drops.spool_full, 1000 - got.length);
  t.deepEqual(got, range(1000 - got.length, 1000));
  s.close();
});

test('the cursor is replaced atomically: a crash before the rename leaves the old one; a damaged one replays everything', (t) => {
  const dir = tmpDir();
  writeCursor(dir, { segment: 3, records: 10 }, true);
  // a crash after writing the temporary file, before the rename
  fs.writeFileSync(path.join(dir, `${CURSOR_FILE}.tmp`), '{"segment":4,"rec');
  t.deepEqual(readCursor(dir).cursor, { segment: 3, records: 10 });
  writeCursor(dir, { segment: 5, records: 0 }, false);
  t.deepEqual(readCursor(dir).cursor, { segment: 5, records: 0 });
  t.false(fs.existsSync(path.join(dir, `${CURSOR_FILE}.tmp`)));

  const d2 = tmpDir();
  const s = Spool.open(opts(d2));
  write(s, 0, 50);
  readAll(s);
  s.ack(50);
  s.close();
  fs.writeFileSync(path.join(d2, CURSOR_FILE), 'garbage');
  const log = recorder();
  const r = Spool.open(opts(d2), log);
  t.regex(log.lines.join('\n'), /cursor unreadable/);
  t.is(r.stats().replayed, 50, 'every record on disk is sent again');
  r.close();
});

test('one directory, one conntrail: a second open fails with SpoolError until the first closes', (t) => {
  const dir = tmpDir();
  const s = Spool.open(opts(dir));
  const err = t.throws(() => Spool.open(opts(dir)), { instanceOf: SpoolError });
  t.regex(err.message, /in use by process/);
  s.close();
  Spool.open(opts(dir)).close();
  // a lock left by a process of an earlier boot, whose pid is alive again (this process's): stale, taken over
  fs.writeFileSync(path.join(dir, 'lock'), `${process.pid} 00000000-0000-0000-0000-000000000000 1`);
  t.notThrows(() => Spool.open(opts(dir)).close());
});

test('a spool directory that cannot be created is one SpoolError line naming spool.directory', (t) => {
  const file = path.join(tmpDir(), 'a-file');
  fs.writeFileSync(file, '');
  const err = t.throws(() => Spool.open(opts(path.join(file, 'spool'))), { instanceOf: SpoolError });
  t.regex(err.message, /^spool\.directory ".*a-file\/spool": cannot create or write it/);
  t.false(err.message.includes('\n'));
});

test('a directory that stops being writable (e.g. after leaving root) loses nothing: the current segment grows until one can be made', (t) => {
  const dir = tmpDir();
  const log = recorder();
  const s = Spool.open(opts(dir), log);
  write(s, 0, 20);
  // the next segment's name is taken by a directory: creating it fails as EACCES would
  fs.mkdirSync(path.join(dir, '0000000000000001.seg'));
  t.is(write(s, 20, 300), 280);
  t.regex(log.lines.join('\n'), /no new segment can be created/);
  t.deepEqual(readAll(s), range(0, 300));
  t.is(s.drops.spool_write_failed, 0);
  s.close();
});
