// DNS reply parsing for the cache behind NetTCPConnect.results.
//
// This module reads the fixed 12-byte header (flags and section counts), the
// question and the A, AAAA and CNAME answers itself (names decoded exactly as
// dns-packet's name.decode does, errors included); answers of other types go
// through dns-packet's answer.decode, whose length rules differ per type. It
// stops after the answer section: authority and additional records are never
// needed, and a reply whose tail was cut by the capture's payload cap still
// yields every answer that arrived whole.
//
// Only the answers on the chain that starts at the question name are kept:
// question --CNAME--> c1 --CNAME--> c2 ... and the A/AAAA records owned by a
// name on that chain. Records off the chain (which a resolver would not accept
// either) are dropped and counted. Names are lower-cased, without the final dot.
import dnsPacket from 'dns-packet';
import { ipv6Text } from '../ip.ts';

/** Why a DNS payload was not used. Each reason is one counter. */
export const DNS_PARSE_ERRORS = [
  'malformed', // does not decode (bad name, bad pointer, short record...)
  'truncated', // cut by the capture's payload cap (or a TCP segment shorter than its length prefix) before any usable answer
  'tc_flag', // the server set TC (truncated over UDP): the client retries over TCP, whose reply is used
  'not_response', // QR=0: a query, not a reply
  'not_query', // opcode other than QUERY
  'rcode_nonzero', // NXDOMAIN, SERVFAIL, REFUSED...
  'bad_question_count', // not exactly one question
  'no_answers', // no A, AAAA or CNAME answer on the question's chain
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
  /** Canonical text (see ../ip.ts). */
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
const codecs = dnsPacket as unknown as { answer: Codec<dnsPacket.Answer> };

const HEADER_BYTES = 12;
const TYPE_A = 1;
const TYPE_CNAME = 5;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
/** dns-packet's NOT_FLUSH_MASK (the mDNS cache-flush bit is not part of the class). */
const NOT_FLUSH_MASK = ~(1 << 15);

/** Bytes the last readName() consumed at its offset (as dns-packet's name.decode.bytes). */
let nameBytes = 0;

/**
 * dns-packet's name.decode, same result and same errors: labels as UTF-8
 * joined with '.', '.' for the root; compression pointers only backwards;
 * at most 254 bytes. Sets nameBytes.
 */
function readName(buf: Buffer, offset: number): string {
  let name = '';
  let labels = 0;
  let oldOffset = offset;
  let totalLength = 0;
  let consumed = 0;
  let jumped = false;
  for (;;) {
    if (offset >= buf.length) throw new Error('Cannot decode name (buffer overflow)');
    const len = buf[offset++]!;
    if (!jumped) consumed++;
    if (len === 0) break;
    if ((len & 0xc0) === 0) {
      if (offset + len > buf.length) throw new Error('Cannot decode name (buffer overflow)');
      totalLength += len + 1;
      if (totalLength > 254) throw new Error('Cannot decode name (name too long)');
      const label = buf.toString('utf8', offset, offset + len);
      name = labels++ === 0 ? label : name + '.' + label;
      offset += len;
      if (!jumped) consumed += len;
    } else if ((len & 0xc0) === 0xc0) {
      if (offset + 1 > buf.length) throw new Error('Cannot decode name (buffer overflow)');
      const jump = buf.readUInt16BE(offset - 1) - 0xc000;
      if (jump >= oldOffset) throw new Error('Cannot decode name (bad pointer)');
      offset = jump;
      oldOffset = jump;
      if (!jumped) consumed++;
      jumped = true;
    } else {
      throw new Error('Cannot decode name (bad label)');
    }
  }
  nameBytes = consumed;
  return labels === 0 ? '.' : name;
}
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
  if (ancount === 0) return FAIL.no_answers;

  let offset = HEADER_BYTES;
  let question: string;
  try {
    question = normalizeName(readName(msg, offset));
    offset += nameBytes;
    msg.readUInt16BE(offset); // type and class: only their presence matters (as dns-packet reads them)
    msg.readUInt16BE(offset + 2);
    offset += 4;
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
    // Record layout: name, type (2), class (2), TTL (4), rdlength (2), rdata. Like dns-packet, an A or AAAA
    // record is taken as 4 or 16 bytes and a CNAME as the name at the rdata, whatever rdlength says.
    const start = offset;
    let type = 0;
    let klass = 0;
    let ttl = 0;
    let owner = '';
    let target = '';
    try {
      owner = readName(msg, offset);
      offset += nameBytes;
      type = msg.readUInt16BE(offset);
      if (type === TYPE_A || type === TYPE_AAAA || type === TYPE_CNAME) {
        klass = msg.readUInt16BE(offset + 2);
        ttl = msg.readUInt32BE(offset + 4);
        offset += 10;
        if (type === TYPE_A) offset += 4;
        else if (type === TYPE_AAAA) offset += 16;
        else {
          target = readName(msg, offset);
          offset += nameBytes;
        }
      } else {
        codecs.answer.decode(msg, start); // a type not used: dns-packet knows its length (and its errors)
        offset = start + codecs.answer.decode.bytes;
      }
    } catch {
      if (!cut) return FAIL.malformed;
      salvaged = true; // keep the answers that arrived whole
      break;
    }
    if (!(offset <= msg.length)) {
      // A record longer than what is left: dns-packet checks no rdlength against the buffer (A, AAAA),
      // and its TXT decoder counts NaN bytes for a string running past the end.
      if (!cut) return FAIL.malformed;
      salvaged = true;
      break;
    }
    if (type !== TYPE_A && type !== TYPE_AAAA && type !== TYPE_CNAME) continue;
    if ((klass & NOT_FLUSH_MASK) !== CLASS_IN) continue;
    owner = normalizeName(owner);
    if (type === TYPE_CNAME) {
      cnameOwners.push(owner);
      cnameTargets.push(normalizeName(target));
      cnameTtls.push(ttl);
    } else {
      // Canonical text (../ip.ts) from the address bytes, the last 4 or 16 before `offset`:
      // dotted decimal for A, RFC 5952 for AAAA.
      const ip = type === TYPE_A ? `${msg[offset - 4]}.${msg[offset - 3]}.${msg[offset - 2]}.${msg[offset - 1]}` : ipv6Text(msg, offset - 16);
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
    return salvaged ? FAIL.truncated : FAIL.no_answers;
  }
  return { ok: true, reply: { question, cnames, addresses, offChain, salvaged } };
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
