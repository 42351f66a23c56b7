// A stand-in OpenTelemetry collector for the telemetry-cost benchmark: accepts
// OTLP/HTTP POSTs on 127.0.0.1 (any path), answers 200 with an empty body,
// counts requests and bytes. Runs as its own process so that its work is not
// charged to the pipeline. Prints "port=N" once listening; on SIGTERM prints
// "requests=N bytes=B" and exits.
import http from 'node:http';

let requests = 0;
let bytes = 0;
const server = http.createServer((req, res) => {
  req.on('data', (c: Buffer) => { bytes += c.length; });
  req.on('end', () => {
    requests++;
    res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/x-protobuf', 'content-length': '0' });
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`port=${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => {
  process.stdout.write(`requests=${requests} bytes=${bytes}\n`);
  server.close();
  process.exit(0);
});
