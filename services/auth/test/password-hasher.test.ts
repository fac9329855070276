import { monitorEventLoopDelay } from 'node:perf_hooks';
import { AppError } from '@zerostate/errors';
import { describe, expect, it } from 'vitest';
import { createPasswordHasher } from '../src/security/password-hasher.js';

describe('password hasher', () => {
  it('when hashing, then the hash verifies the right password only', async () => {
    const hasher = createPasswordHasher({ cost: 4, threads: 2 });
    try {
      const hash = await hasher.hash('correct horse battery staple');
      expect(hash).toMatch(/^\$2b\$04\$/);
      expect(await hasher.verify('correct horse battery staple', hash)).toBe(true);
      expect(await hasher.verify('correct horse battery stapler', hash)).toBe(false);
    } finally {
      await hasher.stop();
    }
  });

  it('when four hashes run at once, then the event loop stays free for most of a hash duration', async () => {
    const hasher = createPasswordHasher({ cost: 11, threads: 2 });
    try {
      await hasher.hash('warm up the workers');
      const started = performance.now();
      await hasher.hash('measure one hash');
      const hashMs = performance.now() - started;

      const delay = monitorEventLoopDelay({ resolution: 1 });
      delay.enable();
      // The sampler measures from its first tick, so a stall before that tick would go unseen.
      await new Promise((resolve) => setTimeout(resolve, 20));
      await Promise.all(Array.from({ length: 4 }, (_, index) => hasher.hash(`concurrent password ${index}`)));
      // The sampler records a stall only when its timer fires after it, so let the loop turn once.
      await new Promise((resolve) => setTimeout(resolve, 20));
      delay.disable();

      // Hashing on the main thread would delay the loop by at least one whole hash.
      const maxDelayMs = delay.max / 1e6;
      expect(maxDelayMs / hashMs).toBeLessThan(0.5);
    } finally {
      await hasher.stop();
    }
  });

  it('when the queue is full, then a new job fails at once with SERVICE_UNAVAILABLE', async () => {
    const hasher = createPasswordHasher({ cost: 8, threads: 1, queueMax: 1 });
    try {
      const running = hasher.hash('first password here');
      const queued = hasher.hash('second password here');
      await expect(hasher.hash('third password here')).rejects.toBeInstanceOf(AppError);
      await expect(hasher.hash('fourth password here')).rejects.toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
      });
      await expect(Promise.all([running, queued])).resolves.toHaveLength(2);
    } finally {
      await hasher.stop();
    }
  });

  it('when queued jobs outlive their deadline, then they are dropped as busy and never hashed', async () => {
    // At cost 12 one hash takes far longer than the deadline, so every job behind the first one
    // is still queued when its deadline passes.
    const hasher = createPasswordHasher({ cost: 12, threads: 1, deadlineMs: 20 });
    try {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 5 }, (_, index) => hasher.hash(`deadline password ${index}`)),
      );

      expect(outcomes[0]).toMatchObject({ status: 'fulfilled' });
      for (const outcome of outcomes.slice(1)) {
        expect(outcome).toMatchObject({
          status: 'rejected',
          reason: { code: 'SERVICE_UNAVAILABLE', message: 'The service is busy; retry later.' },
        });
      }
      expect(hasher.statistics()).toEqual({ completed: 1, dropped: 4 });
    } finally {
      await hasher.stop();
    }
  });

  it('when more jobs wait than sixteen per thread, then the next one is refused at once as busy', async () => {
    const hasher = createPasswordHasher({ cost: 12, threads: 1 });
    const accepted = Array.from({ length: 1 + 16 }, (_, index) => hasher.hash(`queued password ${index}`));
    const settled = Promise.allSettled(accepted);
    try {
      await expect(hasher.hash('one password too many')).rejects.toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        message: 'The service is busy; retry later.',
      });
      expect(hasher.statistics()).toMatchObject({ completed: 0, dropped: 1 });
    } finally {
      await hasher.stop();
      await settled;
    }
  });

  it('when stopped, then queued jobs fail and new jobs are refused', async () => {
    const hasher = createPasswordHasher({ cost: 8, threads: 1 });
    hasher.hash('in flight password').catch(() => undefined);
    const queued = expect(hasher.hash('queued password here')).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
    });
    await hasher.stop();
    await queued;
    await expect(hasher.hash('after stop password')).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
  });
});
