import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

/**
 * Connects with explicit reconnect settings; a service keeps retrying if NATS restarts. `user`
 * and `pass` log in as the process's NATS user (deploy/nats/permissions.conf).
 */
export function connectBus(options: {
  servers: string;
  name: string;
  user?: string | undefined;
  pass?: string | undefined;
}): Promise<NatsConnection> {
  return connect({
    servers: options.servers.split(','),
    name: options.name,
    ...(options.user ? { user: options.user, pass: options.pass ?? '' } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    timeout: 5_000,
    // Otherwise every request allocates an Error (with its stack) only to enrich a rare failure's
    // trace; our errors carry the subject and request id instead.
    noAsyncTraces: true,
  });
}
