// TCP helpers for the live tests (no capture imports: also run in a child process).
import { once } from 'node:events';
import { createServer, connect as tcpConnect } from 'node:net';
import type { Server } from 'node:net';

/** A TCP server on `address` (any free port); close() when done. */
export async function listen(address: string): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer((s) => s.destroy());
  server.listen(0, address);
  await once(server, 'listening');
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return { server, port: addr.port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** connect() to address:port and close again. */
export async function connectOnce(address: string, port: number): Promise<void> {
  const s = tcpConnect(port, address);
  try {
    await once(s, 'connect');
  } finally {
    s.destroy();
  }
}

