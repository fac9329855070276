import { defineEndpoint } from '@zerostate/contracts';
import { AppError, type ErrorCode } from '@zerostate/errors';
import { createLogger, createRegistry, type Registry } from '@zerostate/observability';
import { captureLines, startNatsServer } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import {
  adapterErrorCodes,
  connectBus,
  endpoint,
  generateBusTrust,
  type NatsConnection,
  request,
  serveEndpoints,
} from '../src/index.js';

/** Throws whatever code it is asked to; its contract declares only CONFLICT. */
function refuseEndpoint(service: string) {
  return defineEndpoint({
    service,
    name: 'refuse',
    request: z.strictObject({ code: z.string().max(40), crash: z.boolean().optional() }),
    response: z.object({}),
    errors: ['CONFLICT'],
    timeoutMs: 2_000,
  });
}
const lenient = refuseEndpoint('buslenient');
const strict = refuseEndpoint('busstrict');

let server: Awaited<ReturnType<typeof startNatsServer>>;
let nc: NatsConnection;
const registries: Record<'lenient' | 'strict', Registry> = {
  lenient: createRegistry('buslenient'),
  strict: createRegistry('busstrict'),
};
const { destination, entries: logEntries } = captureLines<Record<string, unknown>>();

beforeAll(async () => {
  server = await startNatsServer({ jetstream: false });
  nc = await connectBus({ servers: server.url, name: 'bus-contract-test' });
  for (const [mode, contract] of [
    ['lenient', lenient],
    ['strict', strict],
  ] as const) {
    await serveEndpoints(nc, {
      name: contract.service,
      version: '0.0.1',
      logger: createLogger({ service: contract.service, destination }),
      registry: registries[mode],
      strictContracts: mode === 'strict',
      verifier: generateBusTrust(contract.service).verifier,
      registrations: [
        endpoint(contract, async (input) => {
          if (input.crash) throw new Error('database password is hunter2');
          throw new AppError(input.code as ErrorCode, `refused with ${input.code}`);
        }),
      ],
    });
  }
});
afterAll(async () => {
  await nc?.drain();
  await server?.stop();
});

async function failure(contract: typeof lenient, code: ErrorCode, crash = false): Promise<AppError> {
  const caught = await request(nc, contract, { code, crash }, { requestId: `req-${code}` }).catch(
    (error: unknown) => error,
  );
  if (!(caught instanceof AppError)) throw new Error(`expected an AppError, got ${String(caught)}`);
  return caught;
}

async function undeclaredCounts(mode: keyof typeof registries) {
  const metric = registries[mode].getSingleMetric('nats_handler_undeclared_errors_total');
  const values = (await metric?.get())?.values ?? [];
  return values.map((value) => ({ ...value.labels, value: value.value }));
}

describe('when a handler throws a code its contract declares, or one the adapter may always answer', () => {
  test('then the caller gets that code and message, in either mode, and nothing is counted', async () => {
    for (const contract of [lenient, strict]) {
      const declared = await failure(contract, 'CONFLICT');
      expect([declared.code, declared.message]).toEqual(['CONFLICT', 'refused with CONFLICT']);
      const generic = await failure(contract, 'SERVICE_UNAVAILABLE');
      expect(generic.code).toBe('SERVICE_UNAVAILABLE');
      expect((await failure(contract, 'CONFLICT', true)).code).toBe('INTERNAL');
    }
    expect(await undeclaredCounts('lenient')).toEqual([]);
    expect(await undeclaredCounts('strict')).toEqual([]);
  });

  test('then the codes every endpoint may answer are the principal, caller, validation, internal and unavailable ones', () => {
    expect([...adapterErrorCodes].sort()).toEqual([
      'CALLER_NOT_ALLOWED',
      'INTERNAL',
      'MALFORMED_JSON',
      'SERVICE_UNAVAILABLE',
      'UNAUTHENTICATED',
      'UNDECLARED_ERROR_CODE',
      'UPSTREAM_TIMEOUT',
      'VALIDATION_FAILED',
    ]);
  });
});

describe('when a handler throws a code its contract does not declare', () => {
  test('then by default the caller gets a generic INTERNAL, and the code is counted and logged', async () => {
    const error = await failure(lenient, 'NOT_FOUND');

    expect(error.code).toBe('INTERNAL');
    expect(error.message).toBe('An internal error occurred.');
    expect(error.details).toBeUndefined();
    expect(await undeclaredCounts('lenient')).toEqual([
      { endpoint: 'svc.buslenient.refuse', code: 'NOT_FOUND', value: 1 },
    ]);
    const logged = logEntries.find(
      (entry) => entry.service === 'buslenient' && entry.message?.toString().includes('does not declare'),
    );
    expect(logged).toMatchObject({ level: 'error', code: 'NOT_FOUND', endpoint: 'svc.buslenient.refuse' });
    const handled = logEntries.find(
      (entry) =>
        entry.request_id === 'req-NOT_FOUND' && entry.service === 'buslenient' && entry.message === 'handled',
    );
    expect(handled).toMatchObject({ status: 'INTERNAL' });
  });

  test('then with strictContracts the caller gets UNDECLARED_ERROR_CODE naming the code and the endpoint', async () => {
    const error = await failure(strict, 'INSUFFICIENT_FUNDS');

    expect(error.code).toBe('UNDECLARED_ERROR_CODE');
    expect(error.message).toBe(
      'svc.busstrict.refuse answered INSUFFICIENT_FUNDS, which its contract does not declare.',
    );
    expect(error.details).toEqual({ endpoint: 'svc.busstrict.refuse', code: 'INSUFFICIENT_FUNDS' });
    expect(await undeclaredCounts('strict')).toEqual([
      { endpoint: 'svc.busstrict.refuse', code: 'INSUFFICIENT_FUNDS', value: 1 },
    ]);
    expect(
      logEntries.some(
        (entry) =>
          entry.service === 'busstrict' && entry.level === 'error' && entry.code === 'INSUFFICIENT_FUNDS',
      ),
    ).toBe(true);
  });
});
