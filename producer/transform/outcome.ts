// The outcome join: each TCP record is held until the kernel says what became
// of its connect (a ConnectOutcomeEvent, see producer/source/types.ts) or until
// enrich.outcomeWaitMs passed, then handed on with srcIP/srcPort, outcome,
// errno, outcomeDelayUs and communityId filled in. One record per connect
// stays the rule: an outcome that comes later is an orphan (counted).
//
//   state outcome   (the socket left SYN_SENT)  joined by socket cookie
//   syscall outcome (connect() failed at once)  joined by tid to that thread's
//                                               latest connect, if still held
//
// The first outcome wins (a blocking connect that is refused gives both).
// Memory is bounded: the pending records sit in a ring of 2 x maxPending slots
// (parallel arrays, allocated once, 36 bytes a slot; the room beyond
// maxPending absorbs the holes joined records leave, squeezed out when it is
// full); past maxPending the oldest is published at once as in_progress
// (counted as evicted). One timer, armed only while records
// are pending, releases the expired ones. The cookie and tid indexes are not
// deleted from as records leave (a Map that empties and fills again
// reallocates its table, per record): a found slot is checked against the
// ring, and the indexes are cleared when nothing is pending and rebuilt from
// the ring when stale entries outnumber the live ones.
import os from 'node:os';
import type { ConnectOutcome } from '../model/connect-outcome.ts';
import type { NetTCPConnect } from '../model/net-tcp-connect.ts';
import type { ConnectOutcomeEvent } from '../source/types.ts';

/** What the join needs of a connect besides its record (ConnectEvent's fields). */
export interface OutcomeKey {
  ktimeNs: number;
  tid: number;
  socketCookie?: number;
  socketCookieValid?: boolean;
}

export interface OutcomeJoinOptions {
  /** How long a record waits for its outcome, in ms (enrich.outcomeWaitMs); 0: no join (records pass at once, outcome null). */
  waitMs: number;
  /** Records held at most (enrich.outcomeMaxPending); past it the oldest is published at once as in_progress. */
  maxPending: number;
  /** Receives records released by the timer (expired) or by stop(); not called for those released into process()'s `out`. */
  release(records: NetTCPConnect[]): void;
  /** Monotonic clock in ms (default performance.now); for tests. */
  now?: () => number;
}

export interface OutcomeStats {
  /** Records joined to a state outcome (the socket left SYN_SENT). */
  joinedState: number;
  /** Records joined to a failed connect() (syscall outcome). */
  joinedSyscall: number;
  /** Records published as in_progress, by reason: no outcome within the wait, the pending bound evicted them, conntrail stopped. */
  inProgress: { timeout: number; evicted: number; shutdown: number };
  /** Records held without a valid socket cookie (only a syscall error can join them). */
  noCookie: number;
  /** Outcomes matching no held record (already published, or a connect conntrail never held: its own, excluded, not TCP). */
  orphans: number;
  /** Syscall outcomes that are no outcome (EINPROGRESS, EALREADY, EINTR, or errno 0): ignored. */
  ignored: number;
  /** Records held now. */
  pending: number;
}

const E = os.constants.errno;
/** errno number -> symbolic name, from this platform's table (the first name of a number wins). */
const ERRNO_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(E)) if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name);

/** The symbolic name of a positive errno ("E123" when this platform has none). */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/** The outcome a failed connect's errno means (0: closed with no error). */
export function outcomeOfErrno(errno: number): ConnectOutcome {
  switch (errno) {
    case E.ECONNREFUSED: return 'refused';
    case E.ECONNRESET: return 'reset';
    case E.ETIMEDOUT: return 'timeout';
    case E.EHOSTUNREACH:
    case E.ENETUNREACH: return 'unreachable';
    default: return 'error';
  }
}

/**
 * The outcome fields of a held record, written in place: the join holds the
 * only reference to a record the Enricher just made (no copy per record).
 */
type OutcomeFields = { -readonly [K in 'srcIP' | 'srcPort' | 'outcome' | 'errno' | 'outcomeDelayUs' | 'communityId']: NetTCPConnect[K] };

/** A record the join does not (or no longer) wait for: in_progress, the rest stays null. */
function setInProgress(r: NetTCPConnect): void {
  (r as OutcomeFields).outcome = 'in_progress';
}

/** Index entries tolerated beyond two per ring slot in use (holes included) before the indexes are rebuilt from the ring. */
const STALE_ENTRIES = 1024;

export class OutcomeJoin {
  readonly waitMs: number;
  readonly #maxPending: number;
  readonly #cap: number;
  readonly #release: (records: NetTCPConnect[]) => void;
  readonly #now: () => number;
  // The ring of pending records, in arrival order; a slot joined early is null (a hole).
  readonly #recs: Array<NetTCPConnect | null>;
  readonly #ktime: Float64Array;
  readonly #deadline: Float64Array;
  readonly #cookie: Float64Array;
  readonly #tid: Int32Array;
  #head = 0;
  #used = 0; // slots from head, holes included
  #pending = 0;
  // cookie / tid -> slot; an entry whose slot was taken or reused is stale (see #find*)
  readonly #byCookie = new Map<number, number>();
  readonly #byTid = new Map<number, number>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = 0;
  /** Inside beginBatch()/endBatch(): the timer is left armed when nothing is pending, until the batch ends. */
  #batching = false;
  readonly #expired: NetTCPConnect[] = [];
  readonly #onTimer = (): void => this.#fire();

  joinedState = 0;
  joinedSyscall = 0;
  readonly inProgress = { timeout: 0, evicted: 0, shutdown: 0 };
  noCookie = 0;
  orphans = 0;
  ignored = 0;

  constructor(opts: OutcomeJoinOptions) {
    this.waitMs = opts.waitMs;
    this.#maxPending = Math.max(1, opts.maxPending);
    // twice the bound: the holes joined records leave are squeezed out at most once per maxPending holds
    this.#cap = opts.waitMs > 0 ? 2 * this.#maxPending : 0;
    this.#release = opts.release;
    this.#now = opts.now ?? (() => performance.now());
    this.#recs = new Array<NetTCPConnect | null>(this.#cap).fill(null);
    this.#ktime = new Float64Array(this.#cap);
    this.#deadline = new Float64Array(this.#cap);
    this.#cookie = new Float64Array(this.#cap);
    this.#tid = new Int32Array(this.#cap);
  }

  /** False when outcomeWaitMs is 0: records pass at once and outcome events are ignored. */
  get enabled(): boolean {
    return this.#cap > 0;
  }

  /** Holds `r` until its outcome; a full ring first publishes its oldest into `out` (in_progress). */
  hold(r: NetTCPConnect, key: OutcomeKey, out: NetTCPConnect[]): void {
    if (!this.enabled) {
      out.push(r);
      return;
    }
    if (this.#pending >= this.#maxPending) this.#evictOldest(out);
    else if (this.#used === this.#cap) this.#compact();
    if (this.#byCookie.size + this.#byTid.size > 2 * this.#used + STALE_ENTRIES) this.#reindex();
    const slot = (this.#head + this.#used) % this.#cap;
    this.#used++;
    this.#pending++;
    this.#recs[slot] = r;
    this.#ktime[slot] = key.ktimeNs;
    this.#deadline[slot] = this.#now() + this.waitMs;
    this.#tid[slot] = key.tid;
    if (key.socketCookieValid === true && key.socketCookie !== undefined) {
      this.#cookie[slot] = key.socketCookie;
      this.#byCookie.set(key.socketCookie, slot);
    } else {
      this.#cookie[slot] = -1;
      this.noCookie++;
    }
    this.#byTid.set(key.tid, slot);
    if (this.#timer === undefined) this.#arm(this.#deadline[slot]!);
  }

  /** One outcome event: the record it completes goes into `out`; else it is counted as an orphan. */
  outcome(ev: ConnectOutcomeEvent, out: NetTCPConnect[]): void {
    if (!this.enabled) return;
    let slot: number | undefined;
    if (ev.source === 'state') {
      slot = ev.socketCookieValid ? this.#byCookie.get(ev.socketCookie) : undefined;
      if (slot !== undefined && this.#cookie[slot] !== ev.socketCookie) slot = undefined; // stale
    } else {
      if (ev.errno === 0 || ev.errno === E.EINPROGRESS || ev.errno === E.EALREADY || ev.errno === E.EINTR) {
        this.ignored++;
        return;
      }
      slot = this.#byTid.get(ev.tid);
      if (slot !== undefined && this.#tid[slot] !== ev.tid) slot = undefined; // stale
      if (slot !== undefined && this.#ktime[slot]! > ev.ktimeNs) slot = undefined; // a later connect: not this one's
    }
    const rec = slot === undefined ? null : this.#recs[slot] ?? null;
    if (rec === null) {
      this.orphans++;
      return;
    }
    const s = slot!;
    const r = rec as OutcomeFields & NetTCPConnect;
    const delayNs = ev.ktimeNs - this.#ktime[s]!;
    r.outcomeDelayUs = delayNs > 0 ? Math.round(delayNs / 1000) : 0;
    if (ev.source === 'state') {
      this.joinedState++;
      r.outcome = ev.established ? 'established' : (ev.errno === 0 ? 'error' : outcomeOfErrno(ev.errno));
      r.errno = ev.established || ev.errno === 0 ? null : errnoName(ev.errno);
      if (ev.srcIP !== '' && ev.srcPort !== 0) {
        r.srcIP = ev.srcIP;
        r.srcPort = ev.srcPort;
        r.communityId = ev.communityId;
      }
    } else {
      this.joinedSyscall++;
      r.outcome = outcomeOfErrno(ev.errno);
      r.errno = errnoName(ev.errno);
    }
    this.#take(s);
    if (this.#pending === 0) {
      // nothing left to wait for: drop the holes and the timer (in a batch, at its end)
      this.#head = 0;
      this.#used = 0;
      if (!this.#batching) this.#idle();
    }
    out.push(r);
  }

  /**
   * Until endBatch(), a join that runs out of pending records keeps its timer:
   * a batch where each connect's outcome follows it (a fast handshake) would
   * otherwise arm and clear a timer for every record. No timer can fire within
   * the batch (one synchronous run), so nothing else differs.
   */
  beginBatch(): void {
    this.#batching = true;
  }

  /** Ends a batch: the timer goes if nothing is pending. */
  endBatch(): void {
    this.#batching = false;
    if (this.#pending === 0) this.#idle();
  }

  /** Publishes (through `release`) the records whose wait is over; returns how many. The timer calls it. */
  expire(): number {
    const out = this.#expired;
    out.length = 0;
    const now = this.#now();
    while (this.#used > 0) {
      const slot = this.#head;
      const r = this.#recs[slot] ?? null;
      if (r !== null && this.#deadline[slot]! > now) break;
      if (r !== null) {
        setInProgress(r);
        this.inProgress.timeout++;
        this.#take(slot);
        out.push(r);
      }
      this.#advance();
    }
    if (this.#pending === 0) this.#idle();
    const n = out.length;
    if (n > 0) this.#release(out);
    out.length = 0;
    return n;
  }

  /** Publishes every pending record at once (in_progress) and disarms the timer: conntrail is stopping. */
  stop(): void {
    this.#disarm();
    const out = this.#expired;
    out.length = 0;
    while (this.#used > 0) {
      const slot = this.#head;
      const r = this.#recs[slot] ?? null;
      if (r !== null) {
        setInProgress(r);
        this.inProgress.shutdown++;
        this.#take(slot);
        out.push(r);
      }
      this.#advance();
    }
    this.#idle();
    if (out.length > 0) this.#release(out);
    out.length = 0;
  }

  /** Counters of a join that is off (outcomeWaitMs 0). */
  static readonly NONE: Readonly<OutcomeStats> = Object.freeze({
    joinedState: 0, joinedSyscall: 0, inProgress: Object.freeze({ timeout: 0, evicted: 0, shutdown: 0 }), noCookie: 0, orphans: 0, ignored: 0, pending: 0,
  });

  stats(): OutcomeStats {
    return {
      joinedState: this.joinedState,
      joinedSyscall: this.joinedSyscall,
      inProgress: { ...this.inProgress },
      noCookie: this.noCookie,
      orphans: this.orphans,
      ignored: this.ignored,
      pending: this.#pending,
    };
  }

  /** The oldest pending record, published now as in_progress (the ring is full). */
  #evictOldest(out: NetTCPConnect[]): void {
    while (this.#used > 0) {
      const slot = this.#head;
      const r = this.#recs[slot] ?? null;
      this.#advance();
      if (r !== null) {
        this.#take(slot);
        setInProgress(r);
        this.inProgress.evicted++;
        out.push(r);
        return;
      }
    }
  }

  /** Moves the live slots together from the head (the ring is full of holes), keeping their order. */
  #compact(): void {
    const cap = this.#cap;
    let w = this.#head;
    for (let i = 0; i < this.#used; i++) {
      const from = (this.#head + i) % cap;
      const r = this.#recs[from] ?? null;
      if (r === null) continue;
      if (from !== w) {
        this.#recs[w] = r;
        this.#recs[from] = null;
        this.#ktime[w] = this.#ktime[from]!;
        this.#deadline[w] = this.#deadline[from]!;
        const cookie = this.#cookie[from]!;
        const tid = this.#tid[from]!;
        this.#cookie[w] = cookie;
        this.#tid[w] = tid;
        if (cookie >= 0 && this.#byCookie.get(cookie) === from) this.#byCookie.set(cookie, w);
        if (this.#byTid.get(tid) === from) this.#byTid.set(tid, w);
      }
      w = (w + 1) % cap;
    }
    this.#used = this.#pending;
  }

  /** Releases a live slot: no longer found by cookie or tid (a found slot must hold a record); its ring place becomes a hole. */
  #take(slot: number): void {
    this.#recs[slot] = null;
    this.#pending--;
  }

  /** The indexes rebuilt from the live slots, in ring order (a tid's latest connect last): stale entries gone. */
  #reindex(): void {
    this.#byCookie.clear();
    this.#byTid.clear();
    for (let i = 0; i < this.#used; i++) {
      const slot = (this.#head + i) % this.#cap;
      if (this.#recs[slot] === null) continue;
      const cookie = this.#cookie[slot]!;
      if (cookie >= 0) this.#byCookie.set(cookie, slot);
      this.#byTid.set(this.#tid[slot]!, slot);
    }
  }

  /** Nothing pending: no timer, and the indexes hold only stale entries. */
  #idle(): void {
    this.#disarm();
    if (this.#byCookie.size > 0) this.#byCookie.clear();
    if (this.#byTid.size > 0) this.#byTid.clear();
  }

  #advance(): void {
    this.#head = (this.#head + 1) % this.#cap;
    this.#used--;
  }

  #arm(at: number): void {
    this.#timerAt = at;
    this.#timer = setTimeout(this.#onTimer, Math.max(1, Math.ceil(at - this.#now())));
    this.#timer.unref();
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fire(): void {
    this.#timer = undefined;
    this.expire();
    if (this.#pending > 0) {
      // the oldest live slot's deadline (holes skipped by expire)
      this.#arm(this.#deadline[this.#head]!);
    }
  }

  /** When the timer fires next (monotonic ms), or null when it is not armed; for tests. */
  get timerAt(): number | null {
    return this.#timer === undefined ? null : this.#timerAt;
  }
}
