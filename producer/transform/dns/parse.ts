// DNS reply parsing for the cache behind NetTCPConnect.results.
//
// The record codecs are dns-packet's (question.decode, answer.decode); this
// module reads only the fixed 12-byte header (flags and section counts) itself,
// so that it can stop after the answer section: authority and additional
// records are never needed, and a reply whose tail was cut by the capture's
// payload cap still yields every answer that arrived whole.
//
// Only the answers on the chain that starts at the question name are kept:
// question --CNAME--> c1 --CNAME--> c2 ... and the A/AAAA records owned by a
// name on that chain. Records off the chain (which a resolver would not accept
// either) are dropped and counted. Names are lower-cased, without the final dot.
//
// A NOERROR reply with no A, AAAA or CNAME answer for the question (NODATA:
// an AAAA query for an IPv4-only name, an HTTPS/TXT/MX query) is a normal,
// usable reply that says "no address": it parses, with `nodata` set and
// nothing to cache, and is not counted as an error.
import dnsPacket from 'dns-packet';
import { ipv6Text } from '../../model/ip.ts';

/** Why a DNS payload was not used. Each reason is one counter. */
export const DNS_PARSE_ERRORS = [
  'malformed', // does not decode (bad name, bad pointer, short record...)
  'truncated', // cut by the capture's payload cap (or a TCP segment shorter than its length prefix) before any usable answer
  'tc_flag', // the server set TC (truncated over UDP): the client retries over TCP, whose reply is used
  'not_response', // QR=0: a query, not a reply
  'not_query', // opcode other than QUERY
  'rcode_nonzero', // NXDOMAIN, SERVFAIL, REFUSED...
  'bad_question_count', // not exactly one question
  'off_chain', // A/AAAA/CNAME answers, none on the question's chain (a reply with none at all is NODATA, not an error)
] as const;
export type DnsParseError = (typeof DNS_PARSE_ERRORS)[number];

export interface CnameLink {
  /** Owner name (lower case, no final dot). */
  name: string;
  /** CNAME target. */
  target: string;
  ttl: number;
}

export interface AddressRecord {
  /** Owner name of the A/AAAA record. */
  name: string;
  /** Canonical text (see model/ip.ts). */
  ip: string;
  ttl: number;
}

export interface ParsedReply {
  /** The question name: the root of the chain. */
  question: string;
  /** CNAME links in chain order, starting at the question. */
  cnames: CnameLink[];
  /** A/AAAA records owned by a name on the chain. */
  addresses: AddressRecord[];
  /** Answers that were A/AAAA/CNAME but not on the question's chain (dropped). */
  offChain: number;
  /** The payload was cut and this reply was salvaged from what arrived whole. */
  salvaged: boolean;
  /** NODATA: no A, AAAA or CNAME answer for the question (`cnames` and `addresses` empty): nothing to cache. Absent: false. */
  nodata?: boolean;
}

export type ParseOutcome =
  | { ok: true; reply: ParsedReply }
  | { ok: false; reason: DnsParseError };

/** Longest CNAME chain followed (resolvers give up around 8-16 hops). */
export const MAX_CHAIN = 16;

// dns-packet exports its record codecs, but @types/dns-packet does not declare them.
interface Codec<T> {
  decode: ((buf: Buffer, offset?: number) => T) & { bytes: number };
}
const codecs = dnsPacket as unknown as { question: Codec<dnsPacket.Question>; answer: Codec<dnsPacket.Answer> };

const HEADER_BYTES = 12;
const QR = 0x8000;
const OPCODE_MASK = 0x7800;
const TC = 0x0200;
const RCODE_MASK = 0x000f;

/** Lower-case, without a final dot ('.' for the root stays '.'). */
export function normalizeName(name: string): string {
  let n = name;
  if (n.length > 1 && n.charCodeAt(n.length - 1) === 46) n = n.slice(0, -1);
  // Fast path: most names are already lower case.
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c >= 65 && c <= 90) return n.toLowerCase();
  }
  return n;
}

const fail = (reason: DnsParseError): ParseOutcome => ({ ok: false, reason });
const FAIL: { [K in DnsParseError]: ParseOutcome } = Object.fromEntries(
  DNS_PARSE_ERRORS.map((r) => [r, Object.freeze(fail(r))]),
) as { [K in DnsParseError]: ParseOutcome };

/**
 * Parse one DNS message (no TCP length prefix). `cut`: the capture copied only
 * the first part of the payload, so a decode error at the end is a cut, not
 * garbage. Never throws.
 */
export function parseDnsMessage(msg: Buffer, cut: boolean): ParseOutcome {
  if (msg.length < HEADER_BYTES) return cut ? FAIL.truncated : FAIL.malformed;
  const flags = msg.readUInt16BE(2);
  if ((flags & QR) === 0) return FAIL.not_response;
  if ((flags & OPCODE_MASK) !== 0) return FAIL.not_query;
  if ((flags & RCODE_MASK) !== 0) return FAIL.rcode_nonzero;
  if ((flags & TC) !== 0) return FAIL.tc_flag;
  const qdcount = msg.readUInt16BE(4);
  const ancount = msg.readUInt16BE(6);
  if (qdcount !== 1) return FAIL.bad_question_count;

  let offset = HEADER_BYTES;
  let question: string;
  try {
    const q = codecs.question.decode(msg, offset);
    offset += codecs.question.decode.bytes;
    if (typeof q.name !== 'string') return FAIL.malformed;
    question = normalizeName(q.name);
  } catch {
    return cut ? FAIL.truncated : FAIL.malformed;
  }

  // Answers of interest, in message order.
  const cnameOwners: string[] = [];
  const cnameTargets: string[] = [];
  const cnameTtls: number[] = [];
  const addrs: AddressRecord[] = [];
  let salvaged = false;
  for (let i = 0; i < ancount; i++) {
    let a: dnsPacket.Answer;
    try {
      a = codecs.answer.decode(msg, offset);
      offset += codecs.answer.decode.bytes;
    } catch {
      if (!cut) return FAIL.malformed;
      salvaged = true; // keep the answers that arrived whole
      break;
    }
    if (offset > msg.length) {
      // dns-packet's A/AAAA decoders do not check rdlength against the buffer.
      if (!cut) return FAIL.malformed;
      salvaged = true;
      break;
    }
    const type = a.type;
    if (type !== 'A' && type !== 'AAAA' && type !== 'CNAME') continue;
    if (a.class !== undefined && a.class !== 'IN') continue;
    const data = (a as dnsPacket.StringAnswer).data;
    if (typeof data !== 'string' || typeof a.name !== 'string') return FAIL.malformed;
    const ttl = typeof a.ttl === 'number' ? a.ttl : 0;
    const owner = normalizeName(a.name);
    if (type === 'CNAME') {
      cnameOwners.push(owner);
      cnameTargets.push(normalizeName(data));
      cnameTtls.push(ttl);
    } else {
      // Canonical text (model/ip.ts) straight from the record's bytes, the last 4 or 16 before `offset`
      // (within the message: checked above): an A record's dotted decimal is canonical already.
      const ip = type === 'A' ? data : ipv6Text(msg, offset - 16);
      addrs.push({ name: owner, ip, ttl });
    }
  }

  // Follow the chain from the question.
  const cnames: CnameLink[] = [];
  const chain: string[] = [question];
  let cur = question;
  for (let hop = 0; hop < MAX_CHAIN; hop++) {
    const k = cnameOwners.indexOf(cur);
    if (k < 0) break;
    const target = cnameTargets[k]!;
    if (chain.includes(target)) break; // CNAME loop
    cnames.push({ name: cur, target, ttl: cnameTtls[k]! });
    chain.push(target);
    cur = target;
  }
  let offChain = cnameOwners.length - cnames.length;
  const addresses: AddressRecord[] = [];
  for (const r of addrs) {
    if (chain.includes(r.name)) addresses.push(r);
    else offChain++;
  }
  if (cnames.length === 0 && addresses.length === 0) {
    if (salvaged) return FAIL.truncated;
    if (offChain > 0) return FAIL.off_chain;
    return { ok: true, reply: { question, cnames, addresses, offChain, salvaged, nodata: true } };
  }
  return { ok: true, reply: { question, cnames, addresses, offChain, salvaged, nodata: false } };
}

/**
 * Parse a captured DNS payload: UDP carries one message; TCP carries messages
 * behind 2-byte length prefixes (one segment may hold several). `cut`: the
 * capture copied less than the payload's length on the wire. Calls `onReply`
 * for each usable reply and `onError` for each unusable one. Never throws.
 */
export function parseDnsPayload(
  payload: Buffer,
  transport: 'udp' | 'tcp',
  cut: boolean,
  onReply: (reply: ParsedReply) => void,
  onError: (reason: DnsParseError) => void,
): void {
  if (transport === 'udp') {
    const r = parseDnsMessage(payload, cut);
    if (r.ok) onReply(r.reply);
    else onError(r.reason);
    return;
  }
  let offset = 0;
  let messages = 0;
  while (offset + 2 <= payload.length) {
    const len = payload.readUInt16BE(offset);
    const end = offset + 2 + len;
    const last = end >= payload.length;
    const msgCut = end > payload.length;
    // A segment shorter than its prefix says (the message goes on in a later
    // segment, which is not reassembled) is parsed as a cut reply.
    const r = parseDnsMessage(payload.subarray(offset + 2, Math.min(end, payload.length)), msgCut || (last && cut));
    messages++;
    if (r.ok) onReply(r.reply);
    else onError(r.reason);
    if (msgCut) return;
    offset = end;
  }
  if (messages === 0 || offset < payload.length) onError(cut ? 'truncated' : 'malformed');
}
