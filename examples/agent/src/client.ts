/** A failed call: the HTTP status and the API's stable error code (docs/API.md). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${status} ${code}: ${message}`);
  }
}

export interface ClientOptions {
  /** e.g. http://127.0.0.1:8080/api/v1 */
  baseUrl: string;
  apiKey: string;
  /** Per attempt; a call that takes longer is abandoned and sent again (same Idempotency-Key). */
  timeoutMs: number;
  /** Attempts in all for a call that timed out, could not connect, or got 503/429. */
  attempts: number;
  onRetry?: (what: string, reason: string) => void;
}

const retryableStatuses = new Set([429, 502, 503, 504]);

/**
 * The public HTTP API, with the agent's API key. Every write carries an Idempotency-Key chosen
 * by the caller and kept across retries, so a bid or result sent twice (the first answer lost to
 * a timeout) is applied once and the retry gets the first answer.
 */
export function apiClient(options: ClientOptions) {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  async function call<T>(method: string, path: string, body?: unknown, idempotencyKey?: string): Promise<T> {
    let lastReason = '';
    for (let attempt = 1; attempt <= options.attempts; attempt += 1) {
      let response: Response;
      try {
        response = await fetch(`${options.baseUrl}${path}`, {
          method,
          headers: {
            'x-api-key': options.apiKey,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(options.timeoutMs),
        });
      } catch (error) {
        // Timed out or could not connect: whether the server applied it is unknown, so send the
        // same request with the same key again.
        lastReason = error instanceof Error ? error.name : String(error);
        options.onRetry?.(`${method} ${path}`, lastReason);
        await sleep(Math.min(2_000, 100 * 2 ** attempt));
        continue;
      }
      const text = await response.text();
      const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      if (response.ok) return parsed as T;
      const error = (parsed.error ?? {}) as { code?: string; message?: string };
      const failure = new ApiError(response.status, error.code ?? 'UNKNOWN', error.message ?? text);
      // A duplicate still in flight is answered once the first finishes: wait and ask again.
      const inFlight = error.code === 'IDEMPOTENCY_REQUEST_IN_PROGRESS';
      if (!(retryableStatuses.has(response.status) || inFlight) || attempt === options.attempts)
        throw failure;
      lastReason = failure.message;
      options.onRetry?.(`${method} ${path}`, lastReason);
      const retryAfter = Number(response.headers.get('retry-after'));
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 100 * 2 ** attempt);
    }
    throw new ApiError(0, 'UNREACHABLE', `${method} ${path}: ${lastReason}`);
  }
  return {
    get: <T>(path: string) => call<T>('GET', path),
    post: <T>(path: string, body: unknown, idempotencyKey?: string) =>
      call<T>('POST', path, body, idempotencyKey),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;
