// The spool's acknowledgement cursor: the first `records` records of segment
// `segment` (and every earlier segment) were acknowledged by Kafka. Written to
// a temporary file and renamed over the old one, so a crash leaves either the
// old cursor or the new one, never half of one. A missing or unreadable cursor
// means "nothing acknowledged": every record left on disk is sent again
// (duplicates, never loss).
import fs from 'node:fs';
import path from 'node:path';

export const CURSOR_FILE = 'cursor.json';

export interface SpoolCursor {
  segment: number;
  records: number;
}

/** The cursor in `dir`, or null (none yet, or damaged: then `damaged` says why). */
export function readCursor(dir: string): { cursor: SpoolCursor | null; damaged?: string } {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, CURSOR_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { cursor: null };
    return { cursor: null, damaged: (err as Error).message };
  }
  try {
    const c = JSON.parse(text) as Partial<SpoolCursor>;
    if (Number.isSafeInteger(c.segment) && Number.isSafeInteger(c.records) && (c.segment as number) >= 0 && (c.records as number) >= 0) {
      return { cursor: { segment: c.segment as number, records: c.records as number } };
    }
  } catch {
    // falls through
  }
  return { cursor: null, damaged: `not a cursor: ${JSON.stringify(text.slice(0, 80))}` };
}

/** Writes the cursor atomically (temporary file + rename); `sync`: fsync the file before the rename. */
export function writeCursor(dir: string, cursor: SpoolCursor, sync: boolean): void {
  const tmp = path.join(dir, `${CURSOR_FILE}.tmp`);
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(cursor));
    if (sync) fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path.join(dir, CURSOR_FILE));
}
