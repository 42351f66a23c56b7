// Connects for a capture to see: real TCP connects from this process.
import net from 'node:net';

/** `count` TCP connects from this process to a listener on 127.0.0.1, one at a time; returns the listener's port. */
export async function connectTimes(count: number): Promise<number> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(); });
      s.on('error', reject);
    });
  }
  server.close();
  return port;
}
