import { randomUUID } from 'node:crypto';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { connectBus, type NatsConnection } from '@zerostate/bus';
import { taskEvents } from '@zerostate/contracts';
import { type RunningStack, waitUntil } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { call } from './support/http.js';
import { expectError, startPaymentsStack } from './support/payments.js';

/**
 * The reputation routes over HTTP: gateway, auth and reputation run as separate processes; the
 * task event reputation learns from is published on the stack's JetStream as the task service's
 * outbox relay will publish it.
 */
let system: RunningStack;
let nc: NatsConnection;

beforeAll(async () => {
  system = await startPaymentsStack();
  nc = await connectBus({ servers: system.natsUrl, name: 'reputation-http-test' });
});
afterAll(async () => {
  await nc?.close();
  await system?.stop();
});

const api = (method: string, path: string, options: Parameters<typeof call>[3] = {}) =>
  call(system.baseUrl, method, `/api/v1${path}`, options);

async function register(label: string): Promise<{ id: string; token: string }> {
  const response = await call<{ access_token: string; user: { id: string } }>(
    system.baseUrl,
    'POST',
    '/api/v1/auth/register',
    { body: { email: `${label}.${randomUUID()}@example.com`, password: 'a long enough password' } },
  );
  expect(response.status).toBe(201);
  return { id: response.body.user.id, token: response.body.access_token };
}

/** Publishes `evt.task.task.completed` as an outbox relay does (envelope, Nats-Msg-Id). */
async function publishCompleted(data: ReturnType<typeof taskEvents.completed.payload.parse>) {
  const id = randomUUID();
  const headers = natsHeaders();
  headers.set('Nats-Msg-Id', id);
  const envelope = { id, type: taskEvents.completed.subject, occurred_at: new Date().toISOString(), data };
  await nc.request(taskEvents.completed.subject, JSON.stringify(envelope), { headers, timeout: 5_000 });
}

describe('when a task was completed and its requester rates it over HTTP', () => {
  const agentId = randomUUID();
  const capability = `http-${randomUUID().slice(0, 8)}`;
  const taskId = randomUUID();
  let requester: { id: string; token: string };

  beforeAll(async () => {
    requester = await register('requester');
    const now = new Date();
    await publishCompleted(
      taskEvents.completed.payload.parse({
        task_id: taskId,
        requester_id: requester.id,
        agent_id: agentId,
        agent_owner_id: randomUUID(),
        capabilities: [capability],
        budget: 20_000_000,
        timeout_seconds: 100,
        cost: 10_000_000,
        estimated_time_seconds: 30,
        started_at: new Date(now.getTime() - 60_000).toISOString(),
        submitted_at: new Date(now.getTime() - 35_000).toISOString(),
        completed_at: now.toISOString(),
      }),
    );
    await waitUntil('reputation to apply the event', async () => {
      const response = await api('GET', `/reputation/${agentId}`);
      return (response.body as { tasks?: { completed: number } }).tasks?.completed === 1;
    });
  });

  test('then anyone reads the score, whose terms add up to overall, the leaderboard and the performance', async () => {
    const score = await api('GET', `/reputation/${agentId}`);
    expect(score.status).toBe(200);
    const body = score.body as { overall: number; explanation: { terms: { value: number }[] } };
    const sum = body.explanation.terms.reduce((total, term) => total + Math.round(term.value * 100), 0);
    expect(sum).toBe(Math.round(body.overall * 100));
    expect(body.overall).toBeGreaterThan(50);

    const board = await api('GET', `/reputation?capability=${capability}&limit=5`);
    expect(board.status).toBe(200);
    expect(board.body).toMatchObject({ items: [{ agent_id: agentId }], next_cursor: null });

    const performance = await api('GET', `/agents/${agentId}/performance`);
    expect(performance.body).toMatchObject({
      agent_id: agentId,
      total_tasks: 1,
      successful_tasks: 1,
      success_rate: 1,
    });
  });

  test('then a stranger gets 404, anonymous 401, the requester 201 once (replayed with its key) and 409 after', async () => {
    const stranger = await register('stranger');
    expectError(
      await api('POST', `/tasks/${taskId}/rating`, { body: { rating: 5 } }),
      401,
      'UNAUTHENTICATED',
    );
    expectError(
      await api('POST', `/tasks/${taskId}/rating`, { token: stranger.token, body: { rating: 5 } }),
      404,
      'NOT_FOUND',
    );
    const key = { 'idempotency-key': `rate-${randomUUID()}` };
    const first = await api('POST', `/tasks/${taskId}/rating`, {
      token: requester.token,
      body: { rating: 5, comment: 'fast and right' },
      headers: key,
    });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      task_id: taskId,
      agent_id: agentId,
      rating: 5,
      requester_id: requester.id,
    });
    const replay = await api('POST', `/tasks/${taskId}/rating`, {
      token: requester.token,
      body: { rating: 5, comment: 'fast and right' },
      headers: key,
    });
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(first.body);
    expectError(
      await api('POST', `/tasks/${taskId}/rating`, { token: requester.token, body: { rating: 4 } }),
      409,
      'RATING_EXISTS',
    );
    expectError(
      await api('POST', `/tasks/${taskId}/rating`, { token: requester.token, body: { rating: 0 } }),
      400,
      'VALIDATION_FAILED',
    );
  });
});
