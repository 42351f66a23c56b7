// `conntrail status`: asks a running conntrail (at telemetry.prometheusHost:
// prometheusPort of the config it is given) for /healthz and /readyz, prints a
// summary (or --json), and exits 0 when it is ready, 1 when it is not ready or
// does not answer.
import type { ConntrailConfig } from './config/load.ts';
import type { Liveness, Readiness } from './health.ts';
import { hostUrl } from './telemetry/http.ts';

export interface StatusReport {
  /** The endpoint asked (null: telemetry.prometheusPort is 0, there is none). */
  url: string | null;
  reachable: boolean;
  ready: boolean;
  liveness: Liveness | null;
  readiness: Readiness | null;
  /** Why it could not be asked. */
  error?: string;
}

/** Where to reach the endpoint from this host: a wildcard listen address is asked on loopback. */
export function statusUrl(t: Pick<ConntrailConfig['telemetry'], 'prometheusHost' | 'prometheusPort'>): string | null {
  if (t.prometheusPort === 0) return null;
  const host = t.prometheusHost === '0.0.0.0' || t.prometheusHost === '' ? '127.0.0.1' : t.prometheusHost === '::' ? '::1' : t.prometheusHost;
  return hostUrl(host, t.prometheusPort);
}

async function getJson(url: string, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    throw new Error(`${url} answered HTTP ${res.status} with no JSON (is this conntrail?)`);
  }
}

function why(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string }; name?: string };
  if (e?.name === 'TimeoutError') return 'no answer in time';
  return e?.cause?.message ?? e?.message ?? String(err);
}

export async function readStatus(url: string | null, timeoutMs = 3000): Promise<StatusReport> {
  if (url === null) {
    return { url, reachable: false, ready: false, liveness: null, readiness: null, error: 'telemetry.prometheusPort is 0: conntrail serves no /healthz or /readyz' };
  }
  try {
    const [live, ready] = await Promise.all([getJson(`${url}/healthz`, timeoutMs), getJson(`${url}/readyz`, timeoutMs)]);
    if (live.status !== 200) throw new Error(`${url}/healthz answered HTTP ${live.status}`);
    const readiness = ready.body as Readiness;
    return { url, reachable: true, ready: ready.status === 200 && readiness.ready === true, liveness: live.body as Liveness, readiness };
  } catch (err) {
    return { url, reachable: false, ready: false, liveness: null, readiness: null, error: why(err) };
  }
}

function duration(s: number): string {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function formatStatus(r: StatusReport): string {
  if (!r.reachable || !r.liveness || !r.readiness) {
    const where = r.url ? `conntrail at ${r.url}` : 'conntrail';
    return `${where}: not reachable: ${r.error ?? 'no answer'}\n` +
      (r.url ? '  is `conntrail run` running with this config (telemetry.prometheusHost / prometheusPort)?\n' : '');
  }
  const l = r.liveness;
  const lines = [`conntrail at ${r.url}: alive (pid ${l.pid}, up ${duration(l.uptimeSeconds)}), ${r.ready ? 'ready' : 'NOT READY'}`];
  const checks = Object.entries(r.readiness.checks);
  const width = Math.max(0, ...checks.map(([name]) => name.length));
  for (const [name, c] of checks) lines.push(`  ${name.padEnd(width)}  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.detail}`);
  for (const reason of r.readiness.reasons) if (!checks.some(([name]) => reason.startsWith(`${name}: `))) lines.push(`  ${reason}`);
  return lines.join('\n') + '\n';
}

/** Prints the status; returns the exit code (0 ready, 1 not ready or not reachable). */
export async function statusCommand(cfg: Pick<ConntrailConfig, 'telemetry'>, json: boolean, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const report = await readStatus(statusUrl(cfg.telemetry));
  out(json ? JSON.stringify(report, null, 2) + '\n' : formatStatus(report));
  return report.ready ? 0 : 1;
}
