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
  /** True when a token of `userId` issued at `issuedAtSeconds` (JWT `iat`) is revoked. */
  isRevoked(userId: string, issuedAtSeconds: number): boolean;
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
  let newestRevokedAtMs: number | undefined;
  let loaded = false;
  let loading: Promise<void> | undefined;

  const apply = (revocation: SessionRevocation) => {
    const revokedAtMs = Date.parse(revocation.revoked_at);
    const expiresAtMs = Date.parse(revocation.expires_at);
    const known = entries.get(revocation.user_id);
    if (known && known.revokedAtMs >= revokedAtMs) return;
    entries.set(revocation.user_id, { revokedAtMs, expiresAtMs });
    newestRevokedAtMs = Math.max(newestRevokedAtMs ?? revokedAtMs, revokedAtMs);
    size.set(entries.size);
    options.onRevoked(revocation.user_id);
  };

  const prune = () => {
    const now = Date.now();
    for (const [userId, entry] of entries) if (entry.expiresAtMs < now) entries.delete(userId);
    size.set(entries.size);
  };

  const poll = async () => {
    let since =
      newestRevokedAtMs === undefined ? undefined : new Date(newestRevokedAtMs - pollOverlapMs).toISOString();
    for (;;) {
      const page = await request(
        options.nc,
        authEndpoints.sessionRevocations,
        since === undefined ? {} : { since },
        { requestId: 'session-revocations' },
      );
      for (const revocation of page.items) apply(revocation);
      if (page.next_since === null) break;
      since = page.next_since;
    }
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
    isRevoked(userId, issuedAtSeconds) {
      const entry = entries.get(userId);
      return entry !== undefined && issuedAtSeconds * 1000 <= entry.revokedAtMs;
    },
    apply,
    stop() {
      clearInterval(timer);
      subscription.unsubscribe();
    },
  };
}
