import { createLogger } from '@zerostate/observability';
import { captureLines, uniqueName } from '@zerostate/testkit';
import { loadGatewayConfig } from '../../src/config.js';
import { createGateway } from '../../src/server.js';
import { gatewayTrust } from './bus-trust.js';

/** Runs the real gateway (createGateway) in this process on an ephemeral port. */
export async function startGateway(env: Record<string, string>) {
  const config = loadGatewayConfig({
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    REDIS_KEY_PREFIX: `${uniqueName('gw')}:`,
    NODE_ENV: 'test',
    BUS_SIGNING_KEYS: gatewayTrust.signingKeys,
    ...env,
  });
  const { destination, lines } = captureLines();
  const gateway = await createGateway(config, {
    logger: createLogger({ service: 'gateway', level: env.LOG_LEVEL ?? 'info', destination }),
  });
  const port = await gateway.start();
  const scheme = config.TLS_CERT_FILE ? 'https' : 'http';
  return { baseUrl: `${scheme}://127.0.0.1:${port}`, port, lines, stop: () => gateway.stop() };
}
