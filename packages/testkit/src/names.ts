import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';

/**
 * `<prefix>_<8 hex>`: unique per call, and safe as a database name, Redis key prefix, NATS subject
 * token or stream name (letters, digits and underscores only).
 */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === 'object' && address !== null) resolve(address.port);
        else reject(new Error('the OS did not report a port'));
      });
    });
  });
}
