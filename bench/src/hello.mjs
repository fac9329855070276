// Baseline servers for benchmarks: `node hello.mjs http|express <port>` answers every request
// with a small JSON body, so a scenario's ratio shows what the gateway path adds.
import http from 'node:http';

const [kind, port] = process.argv.slice(2);
const body = JSON.stringify({ hello: 'world' });
if (kind === 'express') {
  const { default: express } = await import('express');
  const app = express();
  app.get('/{*path}', (_req, res) => {
    res.json({ hello: 'world' });
  });
  app.listen(Number(port), '127.0.0.1', () => process.send?.('ready'));
} else {
  http
    .createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    })
    .listen(Number(port), '127.0.0.1', () => process.send?.('ready'));
}
