import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.js';

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({ name: 'reputation_service' });
});
afterAll(async () => harness?.stop());

describe('the reputation service', () => {
  it('when it starts, then its admin port reports the database and NATS ready', async () => {
    const response = await fetch(`http://127.0.0.1:${harness.service.adminPort()}/ready`);
    expect(await response.json()).toEqual({ status: 'ready', checks: { database: 'ok', nats: 'ok' } });
  });
});
