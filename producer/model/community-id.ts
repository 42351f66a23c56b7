// Community ID flow hash, version 1 (https://github.com/corelight/community-id-spec):
// "1:" + base64(sha1(seed, src addr, dst addr, proto, 0, src port, dst port)),
// the endpoints ordered so both directions of a flow hash alike. Zeek, Suricata,
// Kunai and Elastic write the same value, so records can be joined across tools.
// From address text (communityId) or from the address bytes of a kernel record
// (communityIdOfBytes: what the decoder has, so nothing is formatted and parsed back).
import { hash } from 'node:crypto';
import { AF_INET, AF_INET6, writeIpBytes } from './ip.ts';

export const IPPROTO_TCP = 6;

// Scratch: the two addresses of the text form, and the hashed input (seed 2,
// addresses 2 x 4 or 2 x 16, proto 1, pad 1, ports 2 x 2), one per family.
const A = Buffer.alloc(16);
const B = Buffer.alloc(16);
const INPUT4 = Buffer.alloc(2 + 8 + 6);
const INPUT6 = Buffer.alloc(2 + 32 + 6);

/**
 * Community ID v1 of a flow with ports (TCP, UDP, SCTP), or null when an
 * address is not IP text or the two are of different families.
 */
export function communityId(srcIP: string, srcPort: number, dstIP: string, dstPort: number, proto = IPPROTO_TCP, seed = 0): string | null {
  const n = writeIpBytes(srcIP, A, 0);
  if (n === 0 || writeIpBytes(dstIP, B, 0) !== n) return null;
  return hashFlow(A, 0, B, 0, n, srcPort, dstPort, proto, seed);
}

/** The 12 bytes an IPv4-mapped IPv6 address starts with (::ffff:a.b.c.d). */
function isV4Mapped(b: Buffer, off: number): boolean {
  for (let i = 0; i < 10; i++) if (b[off + i] !== 0) return false;
  return b[off + 10] === 0xff && b[off + 11] === 0xff;
}

/**
 * Community ID v1 of a flow whose addresses are network-order bytes in `b` at
 * `srcOff` and `dstOff` (4 bytes for AF_INET, 16 for AF_INET6). A pair of
 * IPv4-mapped IPv6 addresses hashes as IPv4, as their text (which the record
 * shows as IPv4) does; null for another family, or only one of the two mapped.
 */
export function communityIdOfBytes(b: Buffer, family: number, srcOff: number, srcPort: number, dstOff: number, dstPort: number, proto = IPPROTO_TCP, seed = 0): string | null {
  if (family === AF_INET) return hashFlow(b, srcOff, b, dstOff, 4, srcPort, dstPort, proto, seed);
  if (family !== AF_INET6) return null;
  const mapped = isV4Mapped(b, srcOff);
  if (mapped !== isV4Mapped(b, dstOff)) return null;
  return mapped
    ? hashFlow(b, srcOff + 12, b, dstOff + 12, 4, srcPort, dstPort, proto, seed)
    : hashFlow(b, srcOff, b, dstOff, 16, srcPort, dstPort, proto, seed);
}

/**
 * The hash of the n-byte addresses at sb[so] and db[dOff]: the smaller endpoint
 * (address, then port) first. Bytes compared and copied in JS, into one input
 * buffer per family: Buffer#compare, #copy and #subarray are native calls,
 * dearer than the work for 4 or 16 bytes.
 */
function hashFlow(sb: Buffer, so: number, db: Buffer, dOff: number, n: number, srcPort: number, dstPort: number, proto: number, seed: number): string {
  let order = 0;
  for (let i = 0; i < n && order === 0; i++) order = sb[so + i]! - db[dOff + i]!;
  const swap = order > 0 || (order === 0 && srcPort > dstPort);
  const b = n === 4 ? INPUT4 : INPUT6;
  b[0] = (seed >> 8) & 0xff;
  b[1] = seed & 0xff;
  const first = swap ? db : sb;
  const firstOff = swap ? dOff : so;
  const second = swap ? sb : db;
  const secondOff = swap ? so : dOff;
  for (let i = 0; i < n; i++) {
    b[2 + i] = first[firstOff + i]!;
    b[2 + n + i] = second[secondOff + i]!;
  }
  const o = 2 + 2 * n;
  const p1 = swap ? dstPort : srcPort;
  const p2 = swap ? srcPort : dstPort;
  b[o] = proto & 0xff;
  b[o + 1] = 0;
  b[o + 2] = (p1 >> 8) & 0xff;
  b[o + 3] = p1 & 0xff;
  b[o + 4] = (p2 >> 8) & 0xff;
  b[o + 5] = p2 & 0xff;
  // crypto.hash: one call, no Hash object (createHash + update + digest cost about twice as much, measured)
  return '1:' + hash('sha1', b, 'base64');
}
