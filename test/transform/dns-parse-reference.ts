// The DNS message parser as it was before parse.ts read names and A/AAAA/CNAME
// answers itself: every record through dns-packet's question/answer codecs,
// addresses keyed by canonicalIp of dns-packet's text (and one fix, marked).
// The differential test in dns-fuzz.test.ts holds the new parser to it.
import dnsPacket from 'dns-packet';
import { DNS_PARSE_ERRORS, MAX_CHAIN } from '../../producer/transform/dns/parse.ts';
import type { AddressRecord, CnameLink, DnsParseError, ParseOutcome } from '../../producer/transform/dns/parse.ts';
import { canonicalIp } from '../../producer/transform/ip.ts';

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
function normalizeName(name: string): string {
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
export function parseDnsMessageReference(msg: Buffer, cut: boolean): ParseOutcome {
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
    // One fix to the old code: a TXT string running past the end made dns-packet count NaN bytes,
    // and the old code went on decoding from offset 0; now that is a record running past the end.
    if (!(offset <= msg.length)) {
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
      const ip = canonicalIp(data);
      if (ip === null) return FAIL.malformed;
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

