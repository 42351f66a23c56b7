// Live harness for the results tests: the real capture (CaptureSource, BPF)
// feeding two Enrichers, one per DNS scope, and helpers to wait for the
// NetTCPConnect record of a given connect.
import { CaptureSource } from '../../producer/source/capture.ts';
import type { CaptureEvent } from '../../producer/source/types.ts';
import { Enricher } from '../../producer/transform/enrich.ts';
import { readHostIdentity } from '../../producer/transform/host-identity.ts';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';

export { connectOnce, listen } from './net-helpers.ts';

type Pred = (r: NetTCPConnect) => boolean;
interface Waiter { pred: Pred; resolve: (r: NetTCPConnect) => void }

/** One enricher's output, with waiters for records still to come. */
class Output {
  readonly records: NetTCPConnect[] = [];
  readonly #waiters: Waiter[] = [];
  push(batch: NetTCPConnect[]): void {
    for (const r of batch) {
      this.records.push(r);
      for (let i = this.#waiters.length - 1; i >= 0; i--) {
        const w = this.#waiters[i]!;
        if (w.pred(r)) {
          this.#waiters.splice(i, 1);
          w.resolve(r);
        }
      }
    }
    if (this.records.length > 100_000) this.records.splice(0, 50_000);
  }
  /** The first record (already seen or still to come) matching `pred`. */
  waitFor(pred: Pred, timeoutMs = 5000): Promise<NetTCPConnect> {
    const seen = this.records.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(w);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new Error(`no matching NetTCPConnect within ${timeoutMs} ms`));
      }, timeoutMs);
      const w: Waiter = { pred, resolve: (r) => { clearTimeout(timer); resolve(r); } };
      this.#waiters.push(w);
    });
  }
}

export class LiveCapture {
  readonly source: CaptureSource;
  /** Enricher with the default DNS scope (netns). */
  readonly netns: Enricher;
  /** Enricher with the host-wide switch. */
  readonly host: Enricher;
  readonly netnsOut = new Output();
  readonly hostOut = new Output();

  private constructor() {
    const hostId = readHostIdentity({ name: 'live-test' });
    this.netns = new Enricher({ host: hostId, dnsCache: { scope: 'netns' } });
    this.host = new Enricher({ host: hostId, dnsCache: { scope: 'host' } });
    this.source = CaptureSource.open({
      captureDns: true,
      excludeSelf: false, // the test process makes the lookups and connects itself
      pollIntervalMs: 5,
      onEvents: (events: CaptureEvent[]) => {
        const a: NetTCPConnect[] = [];
        const b: NetTCPConnect[] = [];
        this.netns.process(events, a);
        this.host.process(events, b);
        this.netnsOut.push(a);
        this.hostOut.push(b);
      },
    });
  }

  static #shared: LiveCapture | undefined;
  /** One capture shared by the tests of a file. */
  static shared(): LiveCapture {
    LiveCapture.#shared ??= new LiveCapture();
    return LiveCapture.#shared;
  }
  static async stopShared(): Promise<void> {
    const c = LiveCapture.#shared;
    LiveCapture.#shared = undefined;
    await c?.source.stop();
  }
}

/** Matches the record of this process's connect to ip:port. */
export const connectTo = (ip: string, port: number, pid = process.pid): Pred => (r) => r.dstIP === ip && r.dstPort === port && r.process.pid === pid;
