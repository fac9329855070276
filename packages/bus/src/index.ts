export type { NatsConnection } from '@nats-io/nats-core';
export { type RequestOptions, request } from './client.js';
export { connectBus } from './connect.js';
export { decodeJson, encodeJson, type ReplyEnvelope } from './envelope.js';
export {
  deadLetterStream,
  type EventStreamOptions,
  ensureEventStream,
  eventStream,
  type OutboxRelay,
  type OutboxRelayOptions,
  startOutboxRelay,
} from './events.js';
export {
  type CallContext,
  carrierOf,
  decodeCallHeaders,
  encodeCallHeaders,
  headerNames,
  idempotencyKeyPattern,
} from './headers.js';
export { trackInFlight } from './in-flight.js';
export {
  createPrincipalSigner,
  createPrincipalVerifier,
  gatewayIssuer,
  generateBusTrust,
  type PrincipalBinding,
  PrincipalRejected,
  type PrincipalRejection,
  type PrincipalSigner,
  type PrincipalVerifier,
  servicePrincipal,
} from './principal-token.js';
export {
  type AdapterPolicy,
  adapterErrorCodes,
  createAdapter,
  endpoint,
  type Handler,
  type HandlerContext,
  issuesOf,
  type Registration,
  type ServeOptions,
  serveEndpoints,
  undeclaredErrorsCounter,
} from './serve.js';
