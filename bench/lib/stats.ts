// Summaries of repeated runs: every figure is reported as median, min and max.

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** Every run's value, in run order. */
  runs: number[];
}

export function summarize(values: readonly number[]): Summary {
  const runs = values.filter((v) => Number.isFinite(v));
  if (runs.length === 0) return { median: NaN, min: NaN, max: NaN, runs: [...values] };
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: [...values] };
}

/** Percentile (nearest rank) of an already sorted array. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = Math.ceil(p * n);
  return sorted[Math.min(n - 1, Math.max(0, rank - 1))]!;
}

/** p50 / p99 / p99.9 / max of `values` (sorted in place). */
export function latencyPercentiles(values: Float64Array): { p50: number; p99: number; p999: number; max: number; count: number } {
  values.sort();
  return {
    p50: percentileSorted(values, 0.5),
    p99: percentileSorted(values, 0.99),
    p999: percentileSorted(values, 0.999),
    max: values.length ? values[values.length - 1]! : NaN,
    count: values.length,
  };
}

/** Summaries of each numeric key over a list of run results. */
export function summarizeKeys<K extends string>(rows: readonly Record<K, number>[], keys: readonly K[]): Record<K, Summary> {
  const out = {} as Record<K, Summary>;
  for (const k of keys) out[k] = summarize(rows.map((r) => r[k]));
  return out;
}
