// The image's HEALTHCHECK. Slim Node images have no curl or wget, so Node itself asks the
// process's own /health endpoint and exits 0 (healthy) or 1 (unhealthy).
import http from 'node:http';
import https from 'node:https';

const port = Number(process.env.HEALTH_PORT ?? '8080');
// The gateway serves HTTPS itself when it is given a certificate. The certificate names the public
// host, not localhost, so this local probe does not verify it: it checks liveness, not identity.
const secure = Boolean(process.env.TLS_CERT_FILE && process.env.TLS_KEY_FILE);
const client = secure ? https : http;

const probe = client.get(
  { host: '127.0.0.1', port, path: '/health', timeout: 2_000, rejectUnauthorized: false },
  (response) => {
    response.resume();
    process.exit(response.statusCode === 200 ? 0 : 1);
  },
);
probe.on('timeout', () => probe.destroy(new Error('health probe timed out')));
probe.on('error', (error) => {
  console.error(`health probe failed: ${error.message}`);
  process.exit(1);
});
