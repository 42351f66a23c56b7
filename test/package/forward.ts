// Inside the systemd VM: 127.0.0.1:<port> -> 10.0.2.2:<port> (qemu's user
// network reaches the host's loopback there) for each port given, so the
// local stack's brokers, which advertise 127.0.0.1:9092, are reachable.
import net from 'node:net';

for (const port of process.argv.slice(2).map(Number)) {
  net.createServer((inbound) => {
    const outbound = net.connect(port, '10.0.2.2');
    inbound.pipe(outbound).pipe(inbound);
    const close = (): void => { inbound.destroy(); outbound.destroy(); };
    inbound.on('error', close);
    outbound.on('error', close);
  }).listen(port, '127.0.0.1');
}
