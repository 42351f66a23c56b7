// The shape vocabulary the published records are defined in: each record type
// (net-tcp-connect.ts, agent-status.ts) is one Shape, its TypeScript type is
// derived from it, and the tests check its .avsc (and its ECS mapping) against
// the same Shape.

/** Leaf kinds a field can have; `?` marks a nullable field (Avro ["null", T], default null). */
export type LeafKind = 'string' | 'int' | 'long' | 'timestamp-micros' | 'string[]' | 'string?' | 'int?' | 'long?' | 'timestamp-micros?' | 'string[]?' | 'boolean?';
export type Shape = { readonly [field: string]: LeafKind | Shape };

type LeafType<K> = K extends 'string' ? string
  : K extends 'int' | 'long' | 'timestamp-micros' ? number
  : K extends 'string[]' ? readonly string[]
  : K extends 'string?' ? string | null
  : K extends 'int?' | 'long?' | 'timestamp-micros?' ? number | null
  : K extends 'string[]?' ? readonly string[] | null
  : K extends 'boolean?' ? boolean | null
  : never;

/** The TypeScript type of the records a Shape describes. */
export type FromShape<S> = { [F in keyof S]: S[F] extends LeafKind ? LeafType<S[F]> : FromShape<S[F]> };
