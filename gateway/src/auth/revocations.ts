import { decodeJson, type NatsConnection, request } from '@zerostate/bus';
import { authEndpoints, authEvents, type SessionRevocation } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { gauge, type Logger, type Registry } from '@zerostate/observability';

/**
 * Which users' access tokens the gateway refuses although their signatures are good: those
 * issued at or before the user's last revocation (deactivation, erasure, an admin's revoke),
 * until the last of them has expired. Access tokens are verified here without asking the auth
 * service, so the auth service tells every gateway: at once by the `sessions-revoked` event,
 * and by `svc.auth.session-revocations`, read in full at start and polled after, so a gateway
 * that was starting, disconnected or restarted misses nothing. The gateway that routed the
 * revoking request applies it before answering.
 */
export interface RevocationList {
  /** Resolves once the list was read from the auth service; SERVICE_UNAVAILABLE until it could be. */
  ready(): Promise<void>;
  isReady(): boolean;
  /**
   * True when a token of `userId` issued at `issuedAtMs` (its `iat_ms` claim, or `iat` in ms) is
   * revoked: issued at or before the revocation. Auth replicas stamp both with their own clocks,
   * so they must agree (NTP); a replica running ahead by d could make a token issued up to d
   * before a revocation look later.
   */
  isRevoked(userId: string, issuedAtMs: number): boolean;
  apply(revocation: SessionRevocation): void;
  stop(): void;
}

interface Entry {
  revokedAtMs: number;
  expiresAtMs: number;
}

/**
 * A revocation committed while a poll ran may carry a `revoked_at` before the newest one that
 * poll saw (its transaction stamped it earlier and committed later); each poll re-reads this far
 * back, and applying a revocation twice changes nothing.
 */
const pollOverlapMs = 60_000;
/** An event claiming a revocation further in the future than this is not believed. */
const futureToleranceMs = 5_000;

export function createRevocationList(options: {
  nc: NatsConnection;
  registry: Registry;
  logger: Logger;
  pollIntervalMs: number;
  /** Told of every user newly revoked (the API-key cache forgets the user's keys). */
  onRevoked(userId: string): void;
}): RevocationList {
  const entries = new Map<string, Entry>();
  const size = gauge(
    options.registry,
    'gateway_session_revocations',
    'Users whose earlier access tokens this gateway refuses.',
  );
  /** The newest revocation a poll read (events do not move it: they are not authenticated). */
  let newestPolledMs: number | undefined;
  let loaded = false;
  let loading: Promise<void> | undefined;

  const apply = (revocation: SessionRevocation) => {
    const revokedAtMs = Date.parse(revocation.revoked_at);
    const expiresAtMs = Date.parse(revocation.expires_at);
    // A revocation from the future would lock the user out for good; none is genuine.
    if (revokedAtMs > Date.now() + futureToleranceMs) return;
    const known = entries.get(revocation.user_id);
    if (known && known.revokedAtMs >= revokedAtMs) return;
    entries.set(revocation.user_id, { revokedAtMs, expiresAtMs });
    size.set(entries.size);
    options.onRevoked(revocation.user_id);
  };

  const prune = () => {
    const now = Date.now();
    for (const [userId, entry] of entries) if (entry.expiresAtMs < now) entries.delete(userId);
    size.set(entries.size);
  };

  const poll = async () => {
    const since =
      newestPolledMs === undefined ? undefined : new Date(newestPolledMs - pollOverlapMs).toISOString();
    let cursor: string | undefined;
    do {
      const page = await request(
        options.nc,
        authEndpoints.sessionRevocations,
        cursor !== undefined ? { cursor } : since !== undefined ? { since } : {},
        { requestId: 'session-revocations' },
      );
      for (const revocation of page.items) {
        apply(revocation);
        newestPolledMs = Math.max(newestPolledMs ?? 0, Date.parse(revocation.revoked_at));
      }
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
    prune();
  };

  const subscription = options.nc.subscribe(authEvents.sessionsRevoked.subject, {
    callback: (error, message) => {
      if (error) return;
      try {
        const envelope = decodeJson(message.data) as { data?: unknown };
        const parsed = authEvents.sessionsRevoked.payload.safeParse(envelope.data);
        if (parsed.success) apply(parsed.data);
      } catch (caught) {
        options.logger.warn({ err: caught }, 'unreadable sessions-revoked event');
      }
    },
  });

  const timer = setInterval(() => {
    if (!loaded) {
      ready().catch(() => undefined);
      return;
    }
    poll().catch((error: unknown) => {
      // The list stays as it was; the event still arrives, and the next poll catches up.
      options.logger.warn({ err: error }, 'polling session revocations failed');
    });
  }, options.pollIntervalMs);
  timer.unref();

  /** The first read; requests waiting meanwhile share it, and a failed one is retried by the next. */
  const ready = (): Promise<void> => {
    if (loaded) return Promise.resolve();
    if (loading) return loading;
    loading = poll()
      .then(() => {
        loaded = true;
      })
      .catch((error: unknown) => {
        options.logger.warn({ err: error }, 'loading session revocations failed');
        throw new AppError('SERVICE_UNAVAILABLE', 'Sign-in state is not loaded yet; retry shortly.');
      })
      .finally(() => {
        loading = undefined;
      });
    return loading;
  };

  return {
    ready,
    isReady: () => loaded,
    isRevoked(userId, issuedAtMs) {
      const entry = entries.get(userId);
      return entry !== undefined && issuedAtMs <= entry.revokedAtMs;
    },
    apply,
    stop() {
      clearInterval(timer);
      subscription.unsubscribe();
    },
  };
}
