import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

/** Connects with explicit reconnect settings; a service keeps retrying if NATS restarts. */
export function connectBus(options: { servers: string; name: string }): Promise<NatsConnection> {
  return connect({
    servers: options.servers.split(','),
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    timeout: 5_000,
  });
}
