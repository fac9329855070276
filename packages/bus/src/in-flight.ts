import type { Registration } from './serve.js';

/**
 * Counts handler calls still running. Draining the NATS subscriptions stops new requests, but
 * the client does not await handlers, so stop() waits here before closing the database.
 */
export function trackInFlight(registrations: Registration[]): {
  registrations: Registration[];
  idle(): Promise<void>;
} {
  let inFlight = 0;
  let waiters: (() => void)[] = [];
  const settle = () => {
    inFlight -= 1;
    if (inFlight > 0) return;
    for (const wake of waiters) wake();
    waiters = [];
  };
  const wrapped = registrations.map(
    (registration): Registration => ({
      endpoint: registration.endpoint,
      handler: async (input, context) => {
        inFlight += 1;
        try {
          return await registration.handler(input, context);
        } finally {
          settle();
        }
      },
    }),
  );
  return {
    registrations: wrapped,
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
  };
}
