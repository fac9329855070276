import { errorCatalog } from '@zerostate/errors';
import { describe, expect, it } from 'vitest';
import type { Endpoint } from './endpoint.js';
import * as contracts from './index.js';

/** Every endpoint of every service, found among the exports so a new service cannot be missed. */
const endpoints: Endpoint[] = Object.values(contracts).flatMap((exported) =>
  typeof exported === 'object' && exported !== null
    ? Object.values(exported).filter(
        (value): value is Endpoint =>
          typeof value === 'object' &&
          value !== null &&
          typeof (value as Endpoint).subject === 'string' &&
          (value as Endpoint).subject.startsWith('svc.') &&
          Array.isArray((value as Endpoint).errors),
      )
    : [],
);

describe('endpoint error lists', () => {
  it('when the contracts load, then every endpoint of every service is found', () => {
    const services = new Set(endpoints.map((endpoint) => endpoint.service));
    expect([...services]).toEqual(expect.arrayContaining(['auth', 'payment', 'reputation']));
    expect(endpoints).toEqual(expect.arrayContaining(Object.values(contracts.authEndpoints)));
    expect(endpoints).toEqual(expect.arrayContaining(Object.values(contracts.paymentEndpoints)));
    expect(endpoints).toEqual(expect.arrayContaining(Object.values(contracts.reputationEndpoints)));
  });

  it('when an endpoint lists the codes it may answer, then every one is in the error catalog', () => {
    const unknown = endpoints.flatMap((endpoint) =>
      endpoint.errors
        .filter((code) => !Object.hasOwn(errorCatalog, code))
        .map((code) => `${endpoint.subject}: ${code}`),
    );
    expect(unknown).toEqual([]);
  });

  it('when an endpoint lists the codes it may answer, then it lists each once', () => {
    const repeated = endpoints.filter((endpoint) => new Set(endpoint.errors).size !== endpoint.errors.length);
    expect(repeated.map((endpoint) => endpoint.subject)).toEqual([]);
  });

  it('when endpoints are defined, then no two share a subject', () => {
    const subjects = endpoints.map((endpoint) => endpoint.subject);
    expect(new Set(subjects).size).toBe(subjects.length);
  });
});
