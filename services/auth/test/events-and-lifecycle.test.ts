import { PrismaPg } from '@prisma/adapter-pg';
import { authEndpoints } from '@zerostate/contracts';
import { readStreamMessages } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaClient } from '../src/generated/prisma/client.js';
import { createSigningKeyRing } from '../src/security/signing-key-ring.js';
import { goodPassword, type Harness, startHarness, uniqueEmail } from './harness.js';

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({ name: 'auth_events' });
});

afterAll(async () => {
  await harness?.stop();
});

describe('events', () => {
  it('when a user registers, then evt.auth.user.registered reaches JetStream with the outbox id as message id', async () => {
    const session = await harness.call(authEndpoints.register, {
      email: uniqueEmail('event'),
      password: goodPassword,
    });
    const outbox = await harness.db.query(
      "SELECT id FROM outbox WHERE subject = 'evt.auth.user.registered' AND payload->>'user_id' = $1",
      [session.user.id],
    );
    const eventId = outbox.rows[0].id;

    const messages = await readStreamMessages(harness.nc, {
      stream: 'EVENTS',
      subject: 'evt.auth.user.registered',
      count: 1,
    });

    const event = messages.find((message) => message.messageId === eventId);
    expect(event?.subject).toBe('evt.auth.user.registered');
    expect(event?.body).toMatchObject({
      id: eventId,
      type: 'evt.auth.user.registered',
      data: { user_id: session.user.id, did: session.user.did, roles: ['user'] },
    });
  });
});

describe('signing key bootstrap', () => {
  it('when several replicas start without an active key, then exactly one key becomes active', async () => {
    await harness.db.query(
      "UPDATE signing_keys SET retired_at = now(), verify_until = now() + interval '16 minutes'",
    );
    const clients = Array.from(
      { length: 4 },
      () => new PrismaClient({ adapter: new PrismaPg({ connectionString: harness.config.databaseUrl }) }),
    );
    try {
      const rings = clients.map((prisma) =>
        createSigningKeyRing({
          prisma,
          encryptionKey: harness.config.AUTH_KEY_ENCRYPTION_KEY,
          accessTokenTtlSeconds: 900,
        }),
      );
      await Promise.all(rings.map((ring) => ring.ensureActiveKey()));
      const kids = await Promise.all(rings.map(async (ring) => (await ring.activeKey()).kid));

      const active = await harness.db.query('SELECT kid FROM signing_keys WHERE retired_at IS NULL');
      expect(active.rows).toHaveLength(1);
      expect(new Set(kids)).toEqual(new Set([active.rows[0].kid]));
    } finally {
      await Promise.all(clients.map((client) => client.$disconnect()));
    }
  });
});

describe('admin port', () => {
  it('when the service runs, then /health, /ready and /metrics answer on its admin port', async () => {
    const base = `http://127.0.0.1:${harness.service.adminPort()}`;
    expect(harness.service.adminPort()).toBeGreaterThan(0);
    expect((await fetch(`${base}/health`)).status).toBe(200);
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { database: 'ok', nats: 'ok', signing_key: 'ok' } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('auth_jwt_tokens_issued_total');
    expect(metrics).toContain('db_connections_open');
  });
});

describe('stop', () => {
  it('when the service stops, then it stops answering but leaves the connection it was given open', async () => {
    await harness.service.stop();
    expect(harness.nc.isClosed()).toBe(false);
    await expect(harness.call(authEndpoints.jwks, {})).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(harness.service.adminPort()).toBe(0);
  });
});
