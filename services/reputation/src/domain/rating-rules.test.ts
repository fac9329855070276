import { randomUUID } from 'node:crypto';
import type { Principal } from '@zerostate/contracts';
import { codeOf } from '@zerostate/testkit';
import { describe, expect, it } from 'vitest';
import { decideRating, type KnownTask, requireRater } from './rating-rules.js';

function user(options: { admin?: boolean; scopes?: Principal['scopes'] } = {}): Principal {
  const id = randomUUID();
  return {
    kind: options.scopes ? 'api_key' : 'user',
    user_id: id,
    did: `did:zerostate:user:${id}`,
    roles: options.admin ? ['user', 'admin'] : ['user'],
    is_system: false,
    ...(options.scopes ? { scopes: options.scopes, api_key_id: randomUUID() } : {}),
  };
}

const requester = user();
const owner = user();
const task = (status: KnownTask['status']): KnownTask => ({
  taskId: randomUUID(),
  requesterId: requester.user_id,
  agentId: randomUUID(),
  agentOwnerId: owner.user_id,
  status,
  costMicro: 3_000_000n,
});

describe('who may rate a task', () => {
  it('when the requester rates a completed task, then it is allowed with the paid amount', () => {
    const decided = decideRating(task('completed'), requester);
    expect(decided.costMicro).toBe(3_000_000n);
  });

  it('when the task is unknown, or the caller is neither requester nor agent owner, then NOT_FOUND', () => {
    expect(codeOf(() => decideRating(undefined, requester))).toBe('NOT_FOUND');
    expect(codeOf(() => decideRating(task('completed'), user()))).toBe('NOT_FOUND');
  });

  it("when the agent's owner or an admin rates, then RATING_NOT_ALLOWED: they can see the task but did not pay", () => {
    expect(codeOf(() => decideRating(task('completed'), owner))).toBe('RATING_NOT_ALLOWED');
    expect(codeOf(() => decideRating(task('completed'), user({ admin: true })))).toBe('RATING_NOT_ALLOWED');
  });

  it('when the task is not completed, then RATING_NOT_ALLOWED for the requester', () => {
    for (const status of ['awarded', 'failed', 'timed_out'] as const) {
      expect(
        codeOf(() => decideRating(task(status), requester)),
        status,
      ).toBe('RATING_NOT_ALLOWED');
    }
  });

  it('when there is no caller or the key lacks reputation:write, then UNAUTHENTICATED or INSUFFICIENT_SCOPE', () => {
    expect(codeOf(() => requireRater(undefined))).toBe('UNAUTHENTICATED');
    expect(codeOf(() => requireRater(user({ scopes: ['reputation:read'] })))).toBe('INSUFFICIENT_SCOPE');
    expect(codeOf(() => requireRater(user({ scopes: ['reputation:write'] })))).toBe('none');
  });
});
