// Canonical text of IP addresses: what NetTCPConnect.srcIP/dstIP carry, and
// what the DNS cache keys A/AAAA answers by, so that both key alike. The one
// place IP text is written and parsed (the kernel's exclude-CIDR map keys are
// bpf-native-loader's own business).
//
// Canonical: IPv4 dotted decimal; IPv6 as RFC 5952 (lower case, no leading
// zeros, the longest run of two or more zero groups compressed to "::", the
// first one on a tie); IPv4-mapped IPv6 (::ffff:a.b.c.d, in either spelling)
// as the plain IPv4 address.

export const AF_INET = 2;
export const AF_INET6 = 10;

/**
 * Canonical text of the address at `off` of `b` (4 bytes for AF_INET, 16 for
 * AF_INET6; '' for another family). On the capture's hot path: no allocation
 * but the string.
 */
export function formatIp(b: Buffer, off: number, family: number): string {
  if (family === AF_INET) return ipv4(b, off);
  if (family !== AF_INET6) return '';
  const g = GROUPS;
  for (let i = 0; i < 8; i++) g[i] = (b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!;
  return formatGroups(g);
}

/** Canonical text of the 16-byte IPv6 address at `off` (an AAAA record's data). */
export function ipv6Text(b: Buffer, off: number): string {
  return formatIp(b, off, AF_INET6);
}

/** Canonical text of an IPv4 or IPv6 address, or null when `text` is not one. */
export function canonicalIp(text: string): string | null {
  if (text.indexOf(':') < 0) return parseIPv4(text) === null ? null : text;
  const groups = parseIPv6(text);
  if (groups === null) return null;
  GROUPS.set(groups);
  return formatGroups(GROUPS);
}

/**
 * Cheap normalisation for addresses that are already canonical text (what the
 * capture source hands over): only IPv4-mapped IPv6 is rewritten to IPv4.
 * Anything else is returned unchanged.
 */
export function unmapIPv4(text: string): string {
  if (text.length > 7 && text.charCodeAt(0) === 58 /* : */ && text.startsWith('::ffff:')) {
    const rest = text.slice(7);
    if (rest.indexOf('.') > 0) return parseIPv4(rest) === null ? text : rest;
    const canon = canonicalIp(text);
    return canon ?? text;
  }
  return text;
}

// ---------------------------------------------------------------- writing

function ipv4(b: Buffer | Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** Scratch for formatIp and canonicalIp (no allocation per address). */
const GROUPS = new Uint16Array(8);

/** RFC 5952 text of 8 groups (IPv4-mapped as IPv4). */
function formatGroups(g: Uint16Array): string {
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return hexGroups(g, 0, 8);
  return `${hexGroups(g, 0, bestStart)}::${hexGroups(g, bestStart + bestLen, 8)}`;
}

/** Hex text of each byte value: without leading zero (HEX1) and as two digits (HEX2). */
const HEX1: string[] = [];
const HEX2: string[] = [];
for (let i = 0; i < 256; i++) {
  HEX1.push(i.toString(16));
  HEX2.push(i.toString(16).padStart(2, '0'));
}

/** g.toString(16) from the tables (Number#toString(16) is a runtime call per group). */
function hexGroup(g: number): string {
  return g < 0x100 ? HEX1[g]! : HEX1[g >> 8]! + HEX2[g & 0xff]!;
}

function hexGroups(g: Uint16Array, from: number, to: number): string {
  if (from >= to) return '';
  let s = hexGroup(g[from]!);
  for (let i = from + 1; i < to; i++) s += ':' + hexGroup(g[i]!);
  return s;
}

// ---------------------------------------------------------------- parsing

const HEX = /^[0-9a-fA-F]{1,4}$/;

function parseIPv4(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (p.length === 0 || p.length > 3 || !/^[0-9]+$/.test(p)) return null;
    if (p.length > 1 && p[0] === '0') return null;
    const n = Number(p);
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}

/** The 8 16-bit groups of an IPv6 address, or null. Accepts an embedded IPv4 tail. */
function parseIPv6(text: string): number[] | null {
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) > 0) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    text = text.slice(0, lastColon + 1) + '0';
    tail.length = 2;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!HEX.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  if (head === null) return null;
  let groups: number[];
  if (halves.length === 2) {
    const back = parse(halves[1]!);
    if (back === null) return null;
    if (tail.length) back.pop();
    const fill = 8 - tail.length - head.length - back.length;
    if (fill < 1) return null;
    groups = [...head, ...new Array<number>(fill).fill(0), ...back, ...tail];
  } else {
    if (tail.length) head.pop();
    groups = [...head, ...tail];
  }
  return groups.length === 8 ? groups : null;
}

/**
 * Writes the network-order bytes of the IPv4 or IPv6 address `text` at `off`
 * of `out` (4 or 16 bytes; IPv4-mapped IPv6 text is written as its 16 bytes).
 * Returns how many were written, 0 when `text` is not an address.
 */
export function writeIpBytes(text: string, out: Buffer, off: number): number {
  if (text.indexOf(':') < 0) return writeIPv4(text, out, off) ? 4 : 0;
  // hex groups only (what the capture writes): scanned without allocating
  if (text.indexOf('.') < 0 && text.indexOf('%') < 0) return writeIPv6Groups(text, out, off) ? 16 : 0;
  const g = parseIPv6(text);
  if (g === null) return 0;
  for (let i = 0; i < 8; i++) out.writeUInt16BE(g[i]!, off + 2 * i);
  return 16;
}

/** Dotted-quad text into 4 bytes without allocating (what parseIPv4 accepts); false when it is not one. */
function writeIPv4(text: string, out: Buffer, off: number): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46; /* . */
    if (c === 46) {
      if (digits === 0 || part > 3) return false;
      out[off + part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return false; // a leading zero
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return false;
    } else {
      return false;
    }
  }
  return part === 4;
}

/** Hex value of a character code, -1 when it is not a hex digit. */
function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20; // lower case
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/** Scratch for writeIPv6Groups. */
const SCAN = new Uint16Array(8);

/**
 * IPv6 text of hex groups only (no embedded IPv4, no zone) into 16 bytes
 * without allocating; accepts exactly what parseIPv6 accepts of such text.
 */
function writeIPv6Groups(text: string, out: Buffer, off: number): boolean {
  const len = text.length;
  const g = SCAN;
  let n = 0; // groups read
  let gap = -1; // groups before the "::"
  let i = 0;
  if (text.charCodeAt(0) === 58 /* : */) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
  }
  while (i < len) {
    let v = 0;
    let digits = 0;
    for (let h; i < len && (h = hexValue(text.charCodeAt(i))) >= 0; i++) {
      if (++digits > 4) return false;
      v = (v << 4) | h;
    }
    if (digits === 0 || n === 8) return false;
    g[n++] = v;
    if (i === len) break;
    if (text.charCodeAt(i) !== 58) return false;
    i++;
    if (text.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === len) {
      return false; // a lone ':' at the end
    }
  }
  if (gap < 0 ? n !== 8 : n > 7) return false;
  const zeros = 8 - n;
  for (let k = 0, w = 0; k < 8; k++) {
    const v = gap >= 0 && k >= gap && k < gap + zeros ? 0 : g[w++]!;
    out[off + 2 * k] = v >> 8;
    out[off + 2 * k + 1] = v & 0xff;
  }
  return true;
}
