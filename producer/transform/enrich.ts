// The enrichment stage: capture events in (ring-buffer order), NetTCPConnect
// records out. DNS reply events fill the DNS cache; connect events look it up
// and become NetTCPConnect records (TCP over IPv4/IPv6 only).
import type { NetTCPConnect } from '../model/net-tcp-connect.ts';
import type { ConnectEvent, ConnectOutcomeEvent, DnsReplyEvent, ProcessExecEvent } from '../source/types.ts';
import type { ProcessContext as SourceProcessContext } from '../source/process-context.ts';
import type { Accounts } from './accounts.ts';
import { DnsCache } from './dns/cache.ts';
import type { DnsCacheOptions, DnsCacheStats } from './dns/cache.ts';
import { DNS_PARSE_ERRORS, parseDnsPayload } from './dns/parse.ts';
import type { DnsParseError, ParsedReply } from './dns/parse.ts';
import { newEventId } from './event-id.ts';
import type { HostIdentity } from './host-identity.ts';
import { unmapIPv4 } from '../model/ip.ts';
import { OutcomeJoin } from './outcome.ts';
import type { OutcomeStats } from './outcome.ts';

// The fields of the capture events (producer/source/types.ts) this stage
// reads: a CaptureEvent is an EnrichInput.
export type ConnectInput = Pick<
  ConnectEvent,
  'kind' | 'ktimeNs' | 'timestampUs' | 'pid' | 'tid' | 'uid' | 'gid' | 'comm' | 'cgroupId' | 'netnsCookie' | 'family' | 'sockType' | 'dstIP' | 'dstPort' | 'probe'
> & Partial<Pick<ConnectEvent, 'ppid' | 'procStartNs' | 'exe' | 'containerId' | 'context' | 'socketCookie' | 'socketCookieValid'>>;
export type DnsReplyInput = Pick<DnsReplyEvent, 'kind' | 'ktimeNs' | 'netnsCookie' | 'transport' | 'payload' | 'payloadLength' | 'truncated'>;
export type EnrichInput = ConnectInput | DnsReplyInput | ConnectOutcomeEvent | ProcessExecEvent;

/** What a connect's record takes from its process's context (producer/source/process-context.ts). */
export type ProcessContext = Pick<SourceProcessContext, 'ppid' | 'exe' | 'containerId' | 'args' | 'entityId' | 'parentComm' | 'parentExe' | 'ancestors'>;
/**
 * Process context of a connect (producer/source/process-context.ts). Called only
 * when the capture source did not fill `exe` on the event already. The extra
 * arguments come from the connect record (0 when unknown): the process start
 * time (boot clock, ns) tells a reused pid apart, the kernel's ppid is the
 * fallback when /proc no longer has the process.
 */
export type ProcessContextFn = (pid: number, ktimeNs: number, procStartNs: number, kernelPpid: number) => ProcessContext;

export interface EnricherOptions {
  /** Host identity (see host-identity.ts); shared by every record. */
  host: HostIdentity;
  /** DNS cache options, or a cache to use. */
  dnsCache?: DnsCacheOptions | DnsCache;
  /** ppid, executable, container id, argv and lineage of a process (producer/source/process-context.ts). Default: all null. */
  processContext?: ProcessContextFn;
  /** User and group names (accounts.ts). Default: none (null names). */
  accounts?: Accounts;
  /** Event id generator. Default newEventId (event-id.ts): random v4 UUIDs, like crypto.randomUUID. */
  newEventId?: () => string;
  /** Holds each record until its connect's outcome (outcome.ts). Default: none (records pass at once, outcome null). */
  outcomes?: OutcomeJoin;
}

export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;

export interface EnrichStats {
  /** DNS reply events received. */
  dnsReplies: number;
  /** DNS messages parsed and stored in the cache. */
  dnsRepliesParsed: number;
  /** Of those, replies cut by the capture but with whole answers stored. */
  dnsRepliesSalvaged: number;
  /** Of those, NODATA replies: no address for the asked type (normal; nothing to store). */
  dnsRepliesNoData: number;
  /** A/AAAA/CNAME answers not on the question's chain (ignored). */
  dnsAnswersOffChain: number;
  /** DNS messages not used, by reason. */
  dnsErrors: Record<DnsParseError, number>;
  /** Unexpected exceptions while handling a DNS event (caught; the event is dropped). */
  dnsInternalErrors: number;
  /** Connect events published as NetTCPConnect. */
  connectsPublished: number;
  /** Connect events of an AF_INET/AF_INET6 socket that is not SOCK_STREAM (counted, not published). */
  connectsNotTcp: number;
  /** Connect events of another address family (counted, not published). */
  connectsNotInet: number;
  /** processContext threw (the record got null ppid/exe/containerId). */
  processContextErrors: number;
  /** Records published with a field null because it was not known (the process exited before /proc was read, no account entry...). */
  unknown: { exe: number; args: number; parent: number; userName: number; groupName: number };
  cache: DnsCacheStats;
  /** The outcome join's counters (all 0 when it is off). */
  outcome: OutcomeStats;
}

/** A context with nothing known. */
export const NO_CONTEXT: ProcessContext = Object.freeze({ ppid: null, exe: null, containerId: null, args: null, entityId: null, parentComm: null, parentExe: null, ancestors: null });
const noContext: ProcessContextFn = () => NO_CONTEXT;

export class Enricher {
  readonly cache: DnsCache;
  readonly #host: HostIdentity;
  readonly #processContext: ProcessContextFn;
  readonly #accounts: Accounts | undefined;
  readonly #newEventId: () => string;
  readonly #outcomes: OutcomeJoin | null;

  // Counters: plain fields, copied by stats().
  dnsReplies = 0;
  dnsRepliesParsed = 0;
  dnsRepliesSalvaged = 0;
  dnsRepliesNoData = 0;
  dnsAnswersOffChain = 0;
  readonly dnsErrors: Record<DnsParseError, number> = Object.fromEntries(DNS_PARSE_ERRORS.map((r) => [r, 0])) as Record<DnsParseError, number>;
  dnsInternalErrors = 0;
  connectsPublished = 0;
  connectsNotTcp = 0;
  connectsNotInet = 0;
  processContextErrors = 0;
  readonly unknown = { exe: 0, args: 0, parent: 0, userName: 0, groupName: 0 };

  // Per-DNS-event state for the parse callbacks (bound once, no closure per event).
  #replyNetns = 0;
  #replyNow = 0;
  readonly #onReply = (reply: ParsedReply): void => {
    this.dnsRepliesParsed++;
    if (reply.salvaged) this.dnsRepliesSalvaged++;
    if (reply.nodata) this.dnsRepliesNoData++;
    this.dnsAnswersOffChain += reply.offChain;
    this.cache.insert(this.#replyNetns, reply, this.#replyNow);
  };
  readonly #onError = (reason: DnsParseError): void => {
    this.dnsErrors[reason]++;
  };

  constructor(opts: EnricherOptions) {
    this.#host = Object.isFrozen(opts.host) ? opts.host : Object.freeze({ ...opts.host });
    this.cache = opts.dnsCache instanceof DnsCache ? opts.dnsCache : new DnsCache(opts.dnsCache ?? {});
    this.#processContext = opts.processContext ?? noContext;
    this.#accounts = opts.accounts;
    this.#newEventId = opts.newEventId ?? newEventId;
    this.#outcomes = opts.outcomes?.enabled ? opts.outcomes : null;
  }

  /**
   * Handle `events` in order; append a NetTCPConnect to `out` for each TCP
   * connect, or, with an outcome join, hold it there and append the records
   * whose outcome came (the rest leave through the join's release()). Never
   * throws for bad input.
   */
  process(events: readonly EnrichInput[], out: NetTCPConnect[]): void {
    const join = this.#outcomes;
    if (join === null) {
      for (let i = 0; i < events.length; i++) {
        const ev = events[i]!;
        if (ev.kind === 'dns') this.#dns(ev);
        else if (ev.kind === 'connect') {
          const rec = this.#connect(ev);
          if (rec !== null) out.push(rec);
        }
      }
      return;
    }
    join.beginBatch();
    try {
      for (let i = 0; i < events.length; i++) {
        const ev = events[i]!;
        if (ev.kind === 'dns') this.#dns(ev);
        else if (ev.kind === 'connect') {
          const rec = this.#connect(ev);
          if (rec !== null) join.hold(rec, ev, out);
        } else if (ev.kind === 'outcome') join.outcome(ev, out);
      }
    } finally {
      join.endBatch();
    }
  }

  /** One DNS reply event: parse it and store its answers. */
  #dns(ev: DnsReplyInput): void {
    this.dnsReplies++;
    try {
      this.#replyNetns = ev.netnsCookie;
      this.#replyNow = ev.ktimeNs;
      const cut = ev.truncated || ev.payloadLength > ev.payload.length;
      parseDnsPayload(ev.payload, ev.transport, cut, this.#onReply, this.#onError);
    } catch {
      this.dnsInternalErrors++;
    }
  }

  /** One connect event: a NetTCPConnect record, or null (counted) when it is not TCP over IPv4/IPv6. */
  #connect(ev: ConnectInput): NetTCPConnect | null {
    const family = ev.family;
    if (family !== AF_INET && family !== AF_INET6) {
      this.connectsNotInet++;
      return null;
    }
    // The kernel's sk_type has no SOCK_NONBLOCK/SOCK_CLOEXEC bits; mask them anyway.
    if ((ev.sockType & 0xf) !== SOCK_STREAM) {
      this.connectsNotTcp++;
      return null;
    }
    const dstIP = unmapIPv4(ev.dstIP);
    const results = this.cache.lookup(ev.netnsCookie, dstIP, ev.ktimeNs);
    // The kernel's ppid at connect time is the truest; /proc may be read after a reparenting.
    const kernelPpid = ev.ppid ?? 0;
    let ctx: ProcessContext;
    if (ev.context !== undefined) {
      ctx = ev.context; // the capture source looked it up already
    } else if (ev.exe !== undefined) {
      // a source that gives only the executable and container id
      ctx = { ...NO_CONTEXT, exe: ev.exe, containerId: ev.containerId ?? null };
    } else {
      try {
        ctx = this.#processContext(ev.pid, ev.ktimeNs, ev.procStartNs ?? 0, kernelPpid);
      } catch {
        this.processContextErrors++;
        ctx = NO_CONTEXT;
      }
    }
    const ppid = kernelPpid > 0 ? kernelPpid : ctx.ppid;
    const args = ctx.args;
    const unknown = this.unknown;
    if (ctx.exe === null) unknown.exe++;
    if (args === null) unknown.args++;
    if (ctx.parentComm === null) unknown.parent++;
    const accounts = this.#accounts;
    const userName = accounts ? accounts.userName(ev.uid) : null;
    const groupName = accounts ? accounts.groupName(ev.gid) : null;
    if (userName === null) unknown.userName++;
    if (groupName === null) unknown.groupName++;
    const startNs = ev.procStartNs ?? 0;
    this.connectsPublished++;
    return {
      eventId: this.#newEventId(),
      eventName: 'NetTCPConnect',
      timestamp: ev.timestampUs,
      host: this.#host,
      process: {
        pid: ev.pid,
        tid: ev.tid,
        ppid,
        uid: ev.uid,
        gid: ev.gid,
        comm: ev.comm,
        exe: ctx.exe,
        cgroupId: ev.cgroupId,
        containerId: ctx.containerId,
        args: args === null ? null : args.args,
        argsCount: args === null ? null : args.count,
        argsTruncated: args === null ? null : args.truncated,
        commandLine: args === null ? null : args.commandLine,
        // the connect's wall time less the process's age, both from the kernel's boot clock
        startTime: startNs > 0 && startNs <= ev.ktimeNs ? ev.timestampUs - Math.floor((ev.ktimeNs - startNs) / 1000) : null,
        entityId: ctx.entityId,
        parentComm: ctx.parentComm,
        parentExe: ctx.parentExe,
        ancestors: ctx.ancestors,
        userName,
        groupName,
      },
      netnsCookie: ev.netnsCookie,
      dstIP,
      dstPort: ev.dstPort,
      family: family === AF_INET ? 'AF_INET' : 'AF_INET6',
      results,
      probe: ev.probe,
      // filled by the outcome join (outcome.ts), if any
      srcIP: null,
      srcPort: null,
      outcome: null,
      errno: null,
      outcomeDelayUs: null,
      communityId: null,
    };
  }

  stats(): EnrichStats {
    return {
      dnsReplies: this.dnsReplies,
      dnsRepliesParsed: this.dnsRepliesParsed,
      dnsRepliesSalvaged: this.dnsRepliesSalvaged,
      dnsRepliesNoData: this.dnsRepliesNoData,
      dnsAnswersOffChain: this.dnsAnswersOffChain,
      dnsErrors: { ...this.dnsErrors },
      dnsInternalErrors: this.dnsInternalErrors,
      connectsPublished: this.connectsPublished,
      connectsNotTcp: this.connectsNotTcp,
      connectsNotInet: this.connectsNotInet,
      processContextErrors: this.processContextErrors,
      unknown: { ...this.unknown },
      cache: this.cache.stats(),
      outcome: this.#outcomes ? this.#outcomes.stats() : { ...OutcomeJoin.NONE, inProgress: { ...OutcomeJoin.NONE.inProgress } },
    };
  }
}
