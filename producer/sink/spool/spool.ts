// The disk spool: a write-ahead log of encoded records in segment files
// (frame.ts), bounded by spool.maxBytes, with an acknowledgement cursor
// (cursor.ts). The sink writes every record it accepts here first (one write
// per push), keeps the newest ones in its memory queue as a cache, and reads
// the others back when the queue has room; Kafka's acknowledgements move the
// cursor and delete fully acknowledged segments.
//
// Records are numbered in this process by a sequence (seq), in write order:
//   ackSeq <= readSeq <= writeSeq
//   [ackSeq, readSeq)   in the sink's memory queue or in flight
//   [readSeq, writeSeq) only on disk (the queue was full: "spilling")
// A SIGKILL loses nothing written (the page cache outlives the process); a
// power loss loses what was not yet fsynced (spool.fsync). After a crash the
// records between the persisted cursor and the real acknowledgements are sent
// again: at-least-once, counted as `replayed`.
//
// Damage found on disk (a torn last write, a bad CRC, a bad length, a segment
// that cannot be read) is logged in one line, counted as spool_corrupt and
// skipped past: the rest of that segment is given up, never a crash loop.
import fs from 'node:fs';
import path from 'node:path';
import type { LoggerLike } from '../../log.ts';
import { silentLogger } from '../../log.ts';
import { emptyDropCounts } from '../queue.ts';
import type { DropCounts, QueuePolicy } from '../queue.ts';
import { readCursor, writeCursor } from './cursor.ts';
import type { SpoolCursor } from './cursor.ts';
import { FrameWriter, FRAME_HEADER_BYTES, isSegmentHeader, readFrame, SEGMENT_HEADER_BYTES, SEGMENT_MAGIC } from './frame.ts';

/** When segment writes are fsynced: never (the OS flushes; survives SIGKILL, not power loss), every fsyncIntervalMs while writes happen, or after every write. */
export const FSYNC_POLICIES = ['never', 'interval', 'always'] as const;
export type FsyncPolicy = (typeof FSYNC_POLICIES)[number];

/** At most one cursor write per this many ms while acknowledgements come (and one at close). */
export const CURSOR_WRITE_INTERVAL_MS = 500;
const SEGMENT_NAME = /^(\d{16})\.seg$/;
const LOCK_FILE = 'lock';
const READ_CHUNK = 1024 * 1024;

export interface SpoolOptions {
  directory: string;
  /** Most bytes of segment files (acknowledged parts of the oldest segment included). */
  maxBytes: number;
  /** A segment is closed, and a new one started, once it holds this many bytes. */
  segmentBytes: number;
  /** What a full spool drops (the queue's vocabulary). */
  policy: QueuePolicy;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
}

/** The spool directory cannot be used: printed as one line by the CLI, before capture starts. */
export class SpoolError extends Error {
  override name = 'SpoolError';
  readonly userFacing = true;
}

export interface SpoolStats {
  /** Bytes of segment files now. */
  bytes: number;
  /** Records written and not yet acknowledged. */
  records: number;
  /** Of those, records only on disk (not in the memory queue nor in flight). */
  diskOnly: number;
  segments: number;
  /** Records found unacknowledged at start and sent again (some may have reached Kafka before a crash: duplicates). */
  replayed: number;
  /** Bytes given up as damaged (torn writes, bad CRC or length, unreadable segments). */
  corruptBytes: number;
}

interface Segment {
  id: number;
  path: string;
  firstSeq: number;
  records: number;
  /** Bytes of the file that hold good records (header included). */
  bytes: number;
}

const segmentName = (id: number): string => `${String(id).padStart(16, '0')}.seg`;
const errText = (err: unknown): string => (err as Error)?.message ?? String(err);

export class Spool {
  readonly directory: string;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  readonly policy: QueuePolicy;
  readonly fsync: FsyncPolicy;
  /** spool_full, spool_corrupt, spool_write_failed (the other reasons stay 0). */
  readonly drops: DropCounts = emptyDropCounts();

  readonly #log: LoggerLike;
  readonly #fsyncIntervalMs: number;
  readonly #segments: Segment[] = [];
  #writeFd = -1;
  #totalBytes = 0;
  #writeSeq = 0;
  #readSeq = 0;
  #ackSeq = 0;
  #readSeg: Segment | null = null;
  #readOffset = 0;
  #readFd = -1;
  #readFdSeg: Segment | null = null;
  #chunk = Buffer.allocUnsafe(READ_CHUNK);
  #replayed = 0;
  #corruptBytes = 0;
  #closed = false;
  /** Id of the next segment file (above every one found at start). */
  #nextId = 0;

  // the burst being written (begin() .. commit())
  readonly #frames = new FrameWriter();
  #burstRecords = 0;
  #burstRefused: 'spool_full' | 'spool_write_failed' | null = null;
  #burstStartSeq = 0;
  /** Where each record of the burst starts: its segment and offset (the read position when the queue takes only part of it). */
  readonly #burstSeg: Segment[] = [];
  readonly #burstOff: number[] = [];
  #lastWriteErrorLog = 0;

  #cursorWrittenAt = 0;
  #cursorTimer: NodeJS.Timeout | null = null;
  #cursorDirty = false;
  #fsyncTimer: NodeJS.Timeout | null = null;

  private constructor(o: SpoolOptions, log: LoggerLike) {
    this.directory = o.directory;
    this.maxBytes = o.maxBytes;
    this.segmentBytes = o.segmentBytes;
    this.policy = o.policy;
    this.fsync = o.fsync;
    this.#fsyncIntervalMs = o.fsyncIntervalMs;
    this.#log = log;
  }

  /**
   * Opens (creating it) the spool directory, recovers what a previous run left
   * (records after the cursor are read again before new ones) and starts a new
   * segment. Throws SpoolError when the directory cannot be used.
   */
  static open(options: SpoolOptions, log: LoggerLike = silentLogger): Spool {
    const s = new Spool(options, log);
    s.#lock();
    try {
      s.#recover();
      s.#startSegment();
    } catch (err) {
      s.#unlock();
      if (err instanceof SpoolError) throw err;
      throw new SpoolError(`spool.directory "${options.directory}": ${errText(err)}`);
    }
    return s;
  }

  get writeSeq(): number { return this.#writeSeq; }
  get readSeq(): number { return this.#readSeq; }
  get ackSeq(): number { return this.#ackSeq; }
  /** Records only on disk, waiting for room in the memory queue. */
  get diskOnly(): number { return this.#writeSeq - this.#readSeq; }

  stats(): SpoolStats {
    return {
      bytes: this.#totalBytes,
      records: this.#writeSeq - this.#ackSeq,
      diskOnly: this.#writeSeq - this.#readSeq,
      segments: this.#segments.length,
      replayed: this.#replayed,
      corruptBytes: this.#corruptBytes,
    };
  }

  // ---------- writing ----------

  /** Starts a burst of records written with one write by commit(). */
  begin(): void {
    this.#frames.reset();
    this.#burstRecords = 0;
    this.#burstRefused = null;
    this.#burstStartSeq = this.#writeSeq;
    this.#burstSeg.length = 0;
    this.#burstOff.length = 0;
  }

  /**
   * Adds a record to the burst. False: it is dropped (counted: spool_full, or
   * spool_write_failed), and so is every later record of the burst, so that
   * the records accepted are always the burst's first ones.
   */
  add(value: Buffer, key: string | null, timestampMs: number): boolean {
    if (this.#burstRefused !== null || this.#closed) {
      this.drops[this.#closed ? 'shutdown_unflushed' : this.#burstRefused ?? 'spool_full']++;
      return false;
    }
    const before = this.#frames.length;
    const size = this.#frames.add(value, key, timestampMs);
    const seg = this.#segments[this.#segments.length - 1] as Segment;
    // a new segment once this one is full (a record never spans two)
    if (seg.bytes + before + size > this.segmentBytes && seg.bytes + before > SEGMENT_HEADER_BYTES) {
      this.#frames.truncate(before);
      if (!this.#flushBurst()) return this.#refuse('spool_write_failed');
      this.#roll(); // when it fails, this segment grows past segmentBytes: nothing is lost
      this.#frames.add(value, key, timestampMs);
    }
    const pending = this.#frames.length;
    while (this.#totalBytes + pending > this.maxBytes && this.policy === 'drop-oldest' && this.#canDropOldest()) this.#dropOldest();
    if (this.#totalBytes + pending > this.maxBytes) {
      this.#frames.truncate(pending - size);
      return this.#refuse('spool_full');
    }
    const cur = this.#segments[this.#segments.length - 1] as Segment;
    this.#burstSeg.push(cur);
    this.#burstOff.push(cur.bytes + pending - size);
    this.#burstRecords++;
    return true;
  }

  /** After add() returned false: `n` more records of the burst dropped for the same reason, without framing them. */
  refuseRest(n: number): void {
    this.drops[this.#burstRefused ?? 'spool_full'] += n;
  }

  /** Writes the burst; returns how many of its records are on disk now (its first ones; the others were counted as dropped). */
  commit(): number {
    const ok = this.#flushBurst();
    const written = this.#writeSeq - this.#burstStartSeq;
    if (!ok) this.#burstRefused = 'spool_write_failed';
    return written;
  }

  /**
   * The sink took the next `n` records of the last burst into its memory queue
   * (only while nothing waits on disk only): the read position moves past them.
   */
  markRead(n: number): void {
    if (n <= 0) return;
    this.#readSeq += n;
    if (this.#readSeq >= this.#writeSeq) {
      this.#readSeq = this.#writeSeq;
      const w = this.#segments[this.#segments.length - 1] as Segment;
      this.#setRead(w, w.bytes);
    } else {
      const i = this.#readSeq - this.#burstStartSeq;
      this.#setRead(this.#burstSeg[i] as Segment, this.#burstOff[i] as number);
    }
  }

  #refuse(reason: 'spool_full' | 'spool_write_failed'): false {
    this.#burstRefused = reason;
    this.drops[reason]++;
    return false;
  }

  /** Writes the burst's frames to the current segment. False: the write failed (the records are counted as spool_write_failed). */
  #flushBurst(): boolean {
    const data = this.#frames.bytes();
    const seg = this.#segments[this.#segments.length - 1] as Segment;
    const records = this.#burstRecords - (this.#writeSeq - this.#burstStartSeq);
    if (data.length === 0) return true;
    try {
      for (let o = 0; o < data.length;) o += fs.writeSync(this.#writeFd, data, o, data.length - o, seg.bytes + o);
      if (this.fsync === 'always') fs.fdatasyncSync(this.#writeFd);
    } catch (err) {
      // disk full, I/O error: give the burst up and cut what may have been written of it
      this.drops.spool_write_failed += records;
      this.#burstRecords -= records;
      this.#frames.reset();
      try { fs.ftruncateSync(this.#writeFd, seg.bytes); } catch { /* the reader stops at seg.bytes anyway */ }
      const now = Date.now();
      if (now - this.#lastWriteErrorLog > 10_000) {
        this.#lastWriteErrorLog = now;
        this.#log.error({ err: errText(err), segment: seg.path, records }, 'spool write failed: records dropped (spool_write_failed)');
      }
      return false;
    }
    seg.bytes += data.length;
    seg.records += records;
    this.#totalBytes += data.length;
    this.#writeSeq += records;
    this.#frames.reset();
    if (this.fsync === 'interval') this.#armFsync();
    return true;
  }

  #armFsync(): void {
    if (this.#fsyncTimer) return;
    this.#fsyncTimer = setTimeout(() => {
      this.#fsyncTimer = null;
      this.#syncWriteFd();
    }, this.#fsyncIntervalMs);
    this.#fsyncTimer.unref();
  }

  #syncWriteFd(): void {
    try { fs.fdatasyncSync(this.#writeFd); } catch (err) {
      this.#log.warn({ err: errText(err) }, 'spool fsync failed');
    }
  }

  /** Starts the next segment. False: it cannot be created (e.g. the directory is no longer writable): the current one goes on. */
  #roll(): boolean {
    if (this.fsync !== 'never') this.#syncWriteFd();
    const w = this.#segments[this.#segments.length - 1] as Segment;
    const fd = this.#writeFd;
    try {
      this.#startSegment();
    } catch (err) {
      const now = Date.now();
      if (now - this.#lastWriteErrorLog > 10_000) {
        this.#lastWriteErrorLog = now;
        this.#log.error({ err: errText(err), directory: this.directory, segment: w.path }, 'spool: no new segment can be created; the current one keeps growing');
      }
      return false;
    }
    if (this.#readFdSeg !== w) fs.closeSync(fd);
    else this.#readFd = fd; // the reader keeps it
    return true;
  }

  #startSegment(): void {
    const id = this.#nextId++;
    const p = path.join(this.directory, segmentName(id));
    const fd = fs.openSync(p, 'wx+', 0o600);
    fs.writeSync(fd, SEGMENT_MAGIC, 0, SEGMENT_HEADER_BYTES, 0);
    if (this.fsync !== 'never') this.#syncDirectory();
    this.#writeFd = fd;
    const seg: Segment = { id, path: p, firstSeq: this.#writeSeq, records: 0, bytes: SEGMENT_HEADER_BYTES };
    this.#segments.push(seg);
    this.#totalBytes += SEGMENT_HEADER_BYTES;
    if (this.#readSeg === null) this.#setRead(seg, SEGMENT_HEADER_BYTES);
  }

  #syncDirectory(): void {
    try {
      const d = fs.openSync(this.directory, 'r');
      try { fs.fsyncSync(d); } finally { fs.closeSync(d); }
    } catch { /* some file systems refuse a directory fsync: the file's own sync still holds */ }
  }

  /** The oldest segment is not the one written to, nor holds records of this burst. */
  #canDropOldest(): boolean {
    const s = this.#segments[0] as Segment;
    return this.#segments.length > 1 && s.firstSeq + s.records <= this.#burstStartSeq;
  }

  /** Deletes the oldest segment to make room (drop-oldest): its records not yet read are lost, counted as spool_full. */
  #dropOldest(): void {
    const seg = this.#segments[0] as Segment;
    const end = seg.firstSeq + seg.records;
    const lost = Math.max(0, end - Math.max(this.#readSeq, seg.firstSeq));
    this.drops.spool_full += lost;
    if (lost > 0) this.#log.warn({ segment: seg.path, records: lost }, 'spool full: oldest segment dropped (spool_full)');
    this.#remove(seg);
  }

  // ---------- reading ----------

  /**
   * Reads records only on disk, oldest first, handing each to `accept` until
   * it returns false (the queue is full) or nothing is left on disk only.
   * Returns how many were accepted.
   */
  read(accept: (value: Buffer, key: string | null, timestampMs: number) => boolean): number {
    let n = 0;
    while (this.#readSeq < this.#writeSeq && !this.#closed) {
      const seg = this.#readSeg as Segment;
      if (this.#readSeq >= seg.firstSeq + seg.records || this.#readOffset >= seg.bytes) {
        if (!this.#nextReadSegment(seg)) break;
        continue;
      }
      let fd: number;
      try {
        fd = this.#readFdOf(seg);
      } catch (err) {
        this.#damaged(seg, this.#readOffset, `unreadable: ${errText(err)}`);
        continue;
      }
      const want = Math.min(this.#chunk.length, seg.bytes - this.#readOffset);
      let got: number;
      try {
        got = fs.readSync(fd, this.#chunk, 0, want, this.#readOffset);
      } catch (err) {
        this.#damaged(seg, this.#readOffset, `unreadable: ${errText(err)}`);
        continue;
      }
      let o = 0;
      while (o < got && this.#readSeq < seg.firstSeq + seg.records) {
        const f = readFrame(this.#chunk, o, got);
        if (f.kind === 'partial') {
          // a record larger than the chunk: read it with a larger one
          if (o === 0) {
            if (f.need > seg.bytes - this.#readOffset) { this.#damaged(seg, this.#readOffset, 'record cut short'); o = -1; }
            else this.#chunk = Buffer.allocUnsafe(Math.max(f.need, READ_CHUNK));
          }
          break;
        }
        if (f.kind === 'corrupt') {
          this.#damaged(seg, this.#readOffset, f.why);
          o = -1;
          break;
        }
        if (!accept(f.value, f.key, f.timestampMs)) return n;
        n++;
        o += f.size;
        this.#readOffset += f.size;
        this.#readSeq++;
      }
      if (o === 0 && got === 0) break; // nothing readable: do not spin
    }
    return n;
  }

  /** Damage found while reading a segment: the rest of it is given up, counted exactly (its records are known). */
  #damaged(seg: Segment, offset: number, why: string): void {
    const lost = seg.firstSeq + seg.records - this.#readSeq;
    this.drops.spool_corrupt += lost;
    this.#corruptBytes += seg.bytes - offset;
    this.#log.error({ segment: seg.path, offset, records: lost, why }, 'spool segment damaged: the rest of it is skipped (spool_corrupt)');
    this.#readSeq = seg.firstSeq + seg.records;
    this.#readOffset = seg.bytes;
  }

  #readFdOf(seg: Segment): number {
    if (this.#readFdSeg === seg && this.#readFd >= 0) return this.#readFd;
    this.#closeReadFd();
    const isWrite = seg === this.#segments[this.#segments.length - 1];
    this.#readFd = isWrite ? this.#writeFd : fs.openSync(seg.path, 'r');
    this.#readFdSeg = seg;
    return this.#readFd;
  }

  #closeReadFd(): void {
    if (this.#readFd >= 0 && this.#readFd !== this.#writeFd) fs.closeSync(this.#readFd);
    this.#readFd = -1;
    this.#readFdSeg = null;
  }

  #nextReadSegment(seg: Segment): boolean {
    const i = this.#segments.indexOf(seg);
    const next = this.#segments[i + 1];
    if (!next) return false;
    this.#readSeq = Math.max(this.#readSeq, next.firstSeq);
    this.#setRead(next, SEGMENT_HEADER_BYTES);
    return true;
  }

  #setRead(seg: Segment, offset: number): void {
    if (this.#readSeg !== seg && this.#readFdSeg !== null && this.#readFdSeg !== seg) this.#closeReadFd();
    this.#readSeg = seg;
    this.#readOffset = offset;
  }

  // ---------- acknowledgements ----------

  /** Every record before `seq` is done with (acknowledged by Kafka, or given up and counted): segments are freed, the cursor moves. */
  ack(seq: number): void {
    if (seq <= this.#ackSeq) return;
    this.#ackSeq = Math.min(seq, this.#readSeq);
    while (this.#segments.length > 1) {
      const s = this.#segments[0] as Segment;
      if (s.firstSeq + s.records > this.#ackSeq) break;
      this.#remove(s);
    }
    this.#cursorDirty = true;
    const wait = this.#cursorWrittenAt + CURSOR_WRITE_INTERVAL_MS - Date.now();
    if (wait <= 0) this.#writeCursor();
    else if (!this.#cursorTimer) {
      this.#cursorTimer = setTimeout(() => { this.#cursorTimer = null; this.#writeCursor(); }, wait);
      this.#cursorTimer.unref();
    }
  }

  /** Writes the cursor now if acknowledgements moved it since the last write (the sink's flush: after it, a crash sends nothing again). */
  writeCursorNow(): void {
    if (this.#closed) return;
    if (this.#cursorTimer) clearTimeout(this.#cursorTimer);
    this.#cursorTimer = null;
    this.#writeCursor();
  }

  /** The persisted form of ackSeq: the first segment with unacknowledged records, and how many of its records are acknowledged. */
  cursor(): SpoolCursor {
    for (const s of this.#segments) {
      if (s.firstSeq + s.records > this.#ackSeq || s === this.#segments[this.#segments.length - 1]) {
        return { segment: s.id, records: Math.max(0, Math.min(s.records, this.#ackSeq - s.firstSeq)) };
      }
    }
    return { segment: this.#nextId, records: 0 };
  }

  #writeCursor(): void {
    if (!this.#cursorDirty) return;
    this.#cursorDirty = false;
    this.#cursorWrittenAt = Date.now();
    try {
      writeCursor(this.directory, this.cursor(), this.fsync !== 'never');
    } catch (err) {
      // the next ack tries again; meanwhile a crash replays more (duplicates, not loss)
      this.#cursorDirty = true;
      this.#log.warn({ err: errText(err) }, 'spool cursor not written');
    }
  }

  #remove(seg: Segment): void {
    const i = this.#segments.indexOf(seg);
    if (i < 0) return;
    if (this.#readSeg === seg) {
      const next = this.#segments[i + 1];
      if (next) {
        this.#readSeq = Math.max(this.#readSeq, next.firstSeq);
        this.#setRead(next, SEGMENT_HEADER_BYTES);
      }
    }
    if (this.#readFdSeg === seg) this.#closeReadFd();
    this.#segments.splice(i, 1);
    this.#totalBytes -= seg.bytes;
    this.#ackSeq = Math.max(this.#ackSeq, Math.min(seg.firstSeq + seg.records, this.#readSeq));
    try { fs.unlinkSync(seg.path); } catch (err) {
      this.#log.warn({ err: errText(err), segment: seg.path }, 'spool segment not deleted');
    }
  }

  /** Writes the cursor, syncs and closes the files. Records not acknowledged stay for the next start. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#cursorTimer) clearTimeout(this.#cursorTimer);
    if (this.#fsyncTimer) clearTimeout(this.#fsyncTimer);
    this.#cursorTimer = this.#fsyncTimer = null;
    if (this.fsync !== 'never' && this.#writeFd >= 0) this.#syncWriteFd();
    this.#writeCursor();
    this.#closeReadFd();
    if (this.#writeFd >= 0) fs.closeSync(this.#writeFd);
    this.#writeFd = -1;
    this.#unlock();
  }

  // ---------- start: lock and recovery ----------

  #lock(): void {
    const dir = this.directory;
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      fs.accessSync(dir, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
    } catch (err) {
      throw new SpoolError(`spool.directory "${dir}": cannot create or write it (${errText(err)}); expected a directory conntrail can write, or "" to turn the spool off`);
    }
    const lock = path.join(dir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(lock, processIdentity(process.pid) ?? String(process.pid), { flag: 'wx', mode: 0o600 });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new SpoolError(`spool.directory "${dir}": cannot write its lock file (${errText(err)})`);
      }
      const text = fs.readFileSync(lock, 'utf8');
      const owner = Number(text.split(' ')[0]);
      if (Number.isInteger(owner) && owner > 0 && lockHolderAlive(owner, text)) {
        throw new SpoolError(`spool.directory "${dir}" is in use by process ${owner}: expected a directory of this conntrail only`);
      }
      fs.rmSync(lock, { force: true }); // left by a process that died
    }
    throw new SpoolError(`spool.directory "${dir}": cannot take its lock file`);
  }

  #unlock(): void {
    try { fs.rmSync(path.join(this.directory, LOCK_FILE), { force: true }); } catch { /* gone with the directory */ }
  }

  /** Reads what a previous run left: segments after the cursor, checked record by record. */
  #recover(): void {
    const dir = this.directory;
    const ids = fs.readdirSync(dir).map((n) => SEGMENT_NAME.exec(n)).filter((m) => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b);
    const { cursor, damaged } = readCursor(dir);
    if (damaged) this.#log.warn({ directory: dir, why: damaged }, 'spool cursor unreadable: every record on disk is sent again');
    let maxId = cursor?.segment ?? -1;
    for (const id of ids) {
      maxId = Math.max(maxId, id);
      const p = path.join(dir, segmentName(id));
      if (cursor && id < cursor.segment) { fs.rmSync(p, { force: true }); continue; } // acknowledged
      const seg = this.#scan(id, p);
      if (!seg) continue;
      let acked = 0;
      if (cursor && id === cursor.segment) acked = Math.min(cursor.records, seg.records);
      seg.firstSeq = this.#writeSeq;
      this.#writeSeq += seg.records;
      if (seg.records === acked) { fs.rmSync(p, { force: true }); this.#writeSeq -= seg.records; continue; }
      this.#segments.push(seg);
      this.#totalBytes += seg.bytes;
      if (this.#readSeg === null) {
        // start reading at the first record after the cursor
        this.#ackSeq = this.#readSeq = seg.firstSeq + acked;
        this.#readSeg = seg;
        this.#readOffset = acked === 0 ? SEGMENT_HEADER_BYTES : this.#offsetOf(seg, acked);
      }
    }
    this.#nextId = maxId + 1;
    this.#replayed = this.#writeSeq - this.#ackSeq;
    if (this.#replayed > 0) {
      this.#log.info({ directory: dir, records: this.#replayed, segments: this.#segments.length, bytes: this.#totalBytes }, 'spool: records left unacknowledged by the last run are sent first');
    }
  }

  /** Checks a segment record by record; damage is logged, counted and cut off. Null: nothing usable. */
  #scan(id: number, p: string): Segment | null {
    let fd: number;
    try {
      fd = fs.openSync(p, 'r+');
    } catch (err) {
      const size = fileSize(p);
      this.#corruptBytes += size;
      this.drops.spool_corrupt++;
      this.#log.error({ segment: p, bytes: size, why: errText(err) }, 'spool segment unreadable: skipped (spool_corrupt)');
      removeQuietly(p);
      return null;
    }
    try {
      const size = fs.fstatSync(fd).size;
      const head = Buffer.alloc(SEGMENT_HEADER_BYTES);
      fs.readSync(fd, head, 0, SEGMENT_HEADER_BYTES, 0);
      if (!isSegmentHeader(head)) {
        this.#corruptBytes += size;
        this.drops.spool_corrupt++;
        this.#log.error({ segment: p, bytes: size, why: 'not a spool segment (bad header)' }, 'spool segment damaged: skipped (spool_corrupt)');
        fs.rmSync(p, { force: true });
        return null;
      }
      const seg: Segment = { id, path: p, firstSeq: 0, records: 0, bytes: SEGMENT_HEADER_BYTES };
      let why: string | null = null;
      let chunkStart = SEGMENT_HEADER_BYTES;
      while (chunkStart < size && why === null) {
        const got = fs.readSync(fd, this.#chunk, 0, Math.min(this.#chunk.length, size - chunkStart), chunkStart);
        let o = 0;
        while (o < got) {
          const f = readFrame(this.#chunk, o, got);
          if (f.kind === 'record') { o += f.size; seg.records++; continue; }
          if (f.kind === 'corrupt') why = f.why;
          else if (chunkStart + o + f.need > size) why = 'torn write (the last record is cut short)';
          else if (o === 0) this.#chunk = Buffer.allocUnsafe(f.need); // a record larger than the chunk
          break;
        }
        chunkStart += o;
      }
      seg.bytes = chunkStart;
      if (why !== null) {
        // the records after the damage cannot be trusted to be framed: estimate them from the good ones' size
        const cut = size - chunkStart;
        const avg = seg.records > 0 ? (chunkStart - SEGMENT_HEADER_BYTES) / seg.records : FRAME_HEADER_BYTES + 200;
        const lost = Math.max(1, Math.round(cut / avg));
        this.drops.spool_corrupt += lost;
        this.#corruptBytes += cut;
        this.#log.error({ segment: p, offset: chunkStart, bytes: cut, records: lost, why }, 'spool segment damaged: cut at the last good record (spool_corrupt)');
        try { fs.ftruncateSync(fd, chunkStart); } catch { /* the bytes are ignored anyway */ }
      }
      return seg;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Byte offset of record `n` (0-based) of a scanned segment. */
  #offsetOf(seg: Segment, n: number): number {
    const fd = fs.openSync(seg.path, 'r');
    try {
      let off = SEGMENT_HEADER_BYTES;
      const head = Buffer.alloc(FRAME_HEADER_BYTES);
      for (let i = 0; i < n; i++) {
        fs.readSync(fd, head, 0, FRAME_HEADER_BYTES, off);
        off += FRAME_HEADER_BYTES + head.readUInt32BE(0);
      }
      return off;
    } finally {
      fs.closeSync(fd);
    }
  }
}

/**
 * "pid boot-id start-time": the process, told apart from a later one with the
 * same pid (after a reboot or pid reuse, a stale lock must not stop the
 * service for good). Null without /proc.
 */
function processIdentity(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]; // field 22, starttime
    const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return `${pid} ${boot} ${start}`;
  } catch {
    return null;
  }
}

/** Does the process that wrote the lock still run? */
function lockHolderAlive(pid: number, lock: string): boolean {
  if (lock.includes(' ')) return processIdentity(pid) === lock.trim();
  return pidAlive(pid);
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Unlinks a file found damaged; one that cannot be removed is left (it is skipped at every start, never read). */
function removeQuietly(p: string): void {
  try { fs.unlinkSync(p); } catch { /* left as it is */ }
}

function fileSize(p: string): number {
  try { return fs.statSync(p).size; } catch { return 0; }
}
