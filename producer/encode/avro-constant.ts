// Avro writing with the constant part of each record encoded once.
//
// eventName and the host record (name, machineId, bootId: ~90 of the ~266 bytes
// of a record) are the same in every record a process writes, yet avsc
// UTF-8-encodes them again for each one. Here the WRITER schema's fields are
// cut into segments, in the writer's order: runs of ordinary fields, written by
// an avsc record type made of just those fields (avsc's own compiled writer,
// same field types and defaults, so the same bytes), and runs of constant
// fields, copied from the bytes avsc wrote for them the last time. A constant
// run is reused only while the record's values are those the bytes were made
// from: the host object itself when it is frozen (the enricher shares one
// frozen host among all records), else its fields compared one by one; any
// other value is written by avsc and becomes the new cached run. eventName is
// cached only next to host (alone it is not worth a segment, see build()).
//
// This uses two avsc internals (Type#_write and lib/utils.js Tap, both in avsc
// 5); buildConstantWriter checks them, and the writer against type.toBuffer on
// the sample records, and returns undefined (plain avsc encoding) when anything
// does not fit.
import { createRequire } from 'node:module';
import avsc from 'avsc';

/** The fields conntrail writes with the same value in every record (see producer/transform/enrich.ts). */
export const CONSTANT_FIELDS: readonly string[] = ['eventName', 'host'];

/** avsc's write cursor: a position that runs past buf.length when a value does not fit. */
export interface AvroTap { buf: Buffer; pos: number }
type TapConstructor = new (buf: Buffer, pos?: number) => AvroTap;
type WriteFn = (tap: AvroTap, value: unknown) => void;
type Record_ = Readonly<Record<string, unknown>>;

/** Writes one record at tap.pos (throws like avsc on an invalid record). */
export interface ConstantWriter {
  /** Names of the writer's fields written from cached bytes, in writer order. */
  readonly constantFields: readonly string[];
  newTap(buf: Buffer, pos: number): AvroTap;
  write(tap: AvroTap, record: unknown): void;
}

let tapConstructor: TapConstructor | null | undefined;
function avscTap(): TapConstructor | undefined {
  if (tapConstructor === undefined) {
    try {
      const utils = createRequire(import.meta.url)('avsc/lib/utils.js') as { Tap?: unknown };
      tapConstructor = typeof utils.Tap === 'function' ? utils.Tap as TapConstructor : null;
    } catch {
      tapConstructor = null;
    }
  }
  return tapConstructor ?? undefined;
}

/** An avsc type seen with its internal writer (called as a method: faster than a bound function). */
interface Writable { _write: WriteFn }
const writable = (t: avsc.Type): Writable => {
  if (typeof (t as unknown as { _write?: unknown })._write !== 'function') throw new Error('avsc: no Type#_write');
  return t as unknown as Writable;
};

interface AvscField { name: string; type: avsc.Type; defaultValue(): unknown }
const fieldsOf = (t: avsc.Type): readonly AvscField[] => (t as unknown as { fields: AvscField[] }).fields;

/**
 * Types whose values are JS primitives that always encode to the same bytes,
 * so that `===` on the value is a sound cache key (not float/double: 0 === -0;
 * not bytes, arrays, maps: mutable; not logical types: arbitrary conversion).
 */
function primitiveValued(t: avsc.Type): boolean {
  switch (t.typeName) {
    case 'string': case 'int': case 'long': case 'boolean': case 'null': case 'enum':
      return true;
    case 'union:unwrapped':
      return (t as unknown as { types: avsc.Type[] }).types.every(primitiveValued);
    default:
      return false;
  }
}

/** A record of primitive-valued fields (host), compared field by field. */
const flatRecord = (t: avsc.Type): boolean => t.typeName === 'record' && fieldsOf(t).every((f) => primitiveValued(f.type));

/** One constant field: its name and, for a record value, its fields' names. */
interface Part { readonly name: string; readonly sub: readonly string[] | undefined }

interface Segment { write(tap: AvroTap, r: Record_): void }

class VariableSegment implements Segment {
  readonly #type: Writable;
  constructor(type: avsc.Type) { this.#type = writable(type); }
  write(tap: AvroTap, r: Record_): void { this.#type._write(tap, r); }
}

class ConstantSegment implements Segment {
  readonly #type: Writable;
  readonly #parts: readonly Part[];
  #bytes: Uint8Array | undefined;
  /** Per part: the value (or record object) the bytes were made from. */
  readonly #values: unknown[];
  /** Per part: whether that record object was frozen (then identity is enough). */
  readonly #frozen: boolean[];
  /** Per record part: its fields' values when the bytes were made. */
  readonly #sub: unknown[][];

  constructor(type: avsc.Type, parts: readonly Part[]) {
    this.#type = writable(type);
    this.#parts = parts;
    this.#values = parts.map(() => undefined);
    this.#frozen = parts.map(() => false);
    this.#sub = parts.map(() => []);
  }

  write(tap: AvroTap, r: Record_): void {
    const bytes = this.#bytes;
    if (bytes !== undefined && this.#same(r)) {
      const pos = tap.pos;
      tap.pos = pos + bytes.length;
      if (tap.pos <= tap.buf.length) tap.buf.set(bytes, pos);
      return;
    }
    const start = tap.pos;
    this.#type._write(tap, r);
    if (tap.pos <= tap.buf.length) this.#remember(r, tap.buf.subarray(start, tap.pos));
  }

  #same(r: Record_): boolean {
    const parts = this.#parts;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      const v = r[p.name];
      const cached = this.#values[i];
      if (p.sub === undefined) {
        if (v !== cached) return false;
        continue;
      }
      if (v === cached && this.#frozen[i]) continue;
      if (typeof v !== 'object' || v === null) return false;
      const o = v as Record_;
      const sub = this.#sub[i]!;
      for (let j = 0; j < p.sub.length; j++) if (o[p.sub[j]!] !== sub[j]) return false;
    }
    return true;
  }

  #remember(r: Record_, bytes: Uint8Array): void {
    this.#bytes = new Uint8Array(bytes); // a copy: the slab is handed out
    const parts = this.#parts;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      const v = r[p.name];
      this.#values[i] = v;
      if (p.sub === undefined) continue;
      const o = v as Record_;
      this.#frozen[i] = Object.isFrozen(o);
      this.#sub[i] = p.sub.map((name) => o[name]);
    }
  }
}

/**
 * A writer for records of `type` (a record type) that copies CONSTANT_FIELDS
 * from bytes encoded once, or undefined when the schema or avsc does not allow
 * it (then encode with plain avsc). `samples` are records conntrail writes: the
 * writer must give exactly type.toBuffer's bytes for them (each written twice,
 * the second time from the cache), else undefined.
 */
export function buildConstantWriter(type: avsc.Type, samples: readonly unknown[]): ConstantWriter | undefined {
  try {
    return build(type, samples);
  } catch {
    return undefined;
  }
}

function build(type: avsc.Type, samples: readonly unknown[]): ConstantWriter | undefined {
  const Tap = avscTap();
  if (Tap === undefined || type.typeName !== 'record') return undefined;
  const fields = fieldsOf(type);
  // The writer's own schema gives each field's default as JSON, as forSchema wants it.
  const exported = (type.schema({ exportAttrs: true }) as { fields: { default?: unknown }[] }).fields;
  const isConstant = fields.map((f) => CONSTANT_FIELDS.includes(f.name) && (primitiveValued(f.type) || flatRecord(f.type)));
  // A run of constant fields pays for its own segment only with a record in it:
  // eventName alone (14 bytes) measured ~3% slower cached than written by avsc
  // in its neighbours' segment. Such runs stay with the ordinary fields.
  for (let i = 0; i < fields.length;) {
    let j = i;
    while (j < fields.length && isConstant[j] === isConstant[i]) j++;
    if (isConstant[i] && !fields.slice(i, j).some((f) => flatRecord(f.type))) isConstant.fill(false, i, j);
    i = j;
  }
  if (!isConstant.includes(true)) return undefined;

  const segments: Segment[] = [];
  const constantFields: string[] = [];
  for (let i = 0; i < fields.length;) {
    const constant = isConstant[i];
    let j = i;
    while (j < fields.length && isConstant[j] === constant) j++;
    const run = fields.slice(i, j);
    const sub = avsc.Type.forSchema({
      type: 'record',
      name: `ConntrailSegment${segments.length}`,
      fields: run.map((f, k) => ({ name: f.name, type: f.type as unknown as avsc.Schema, default: exported[i + k]?.default })),
    }, { wrapUnions: false });
    if (constant) {
      segments.push(new ConstantSegment(sub, run.map((f) => ({ name: f.name, sub: primitiveValued(f.type) ? undefined : fieldsOf(f.type).map((g) => g.name) }))));
      constantFields.push(...run.map((f) => f.name));
    } else {
      segments.push(new VariableSegment(sub));
    }
    i = j;
  }

  const writer: ConstantWriter = {
    constantFields,
    newTap: (buf, pos) => new Tap(buf, pos),
    write(tap, record) {
      const r = record as Record_;
      for (let i = 0; i < segments.length; i++) segments[i]!.write(tap, r);
    },
  };
  for (const s of samples) {
    const want = type.toBuffer(s);
    for (let k = 0; k < 2; k++) {
      const tap = writer.newTap(Buffer.alloc(want.length + 16), 3);
      writer.write(tap, s);
      if (tap.pos !== want.length + 3 || !tap.buf.subarray(3, tap.pos).equals(want)) return undefined;
    }
  }
  return writer;
}
