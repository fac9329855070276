/**
 * The one catalog of error codes. Every error a client can see has a code here; the gateway maps
 * the code to an HTTP status in exactly one place (`httpStatusOf`). `retryable` tells callers
 * whether the same request may succeed later without change. docs/API.md lists these codes and a
 * test keeps the two in sync.
 */
export const errorCatalog = {
  VALIDATION_FAILED: { status: 400, retryable: false, message: 'The request is not valid.' },
  MALFORMED_JSON: { status: 400, retryable: false, message: 'The request body is not valid JSON.' },
  WEAK_PASSWORD: {
    status: 400,
    retryable: false,
    message: 'The password must be at least 12 characters long.',
  },
  UNAUTHENTICATED: { status: 401, retryable: false, message: 'Authentication is required.' },
  INVALID_TOKEN: { status: 401, retryable: false, message: 'The access token is not valid.' },
  INVALID_API_KEY: { status: 401, retryable: false, message: 'The API key is not valid.' },
  INVALID_CREDENTIALS: { status: 401, retryable: false, message: 'The email or password is wrong.' },
  INVALID_REFRESH_TOKEN: { status: 401, retryable: false, message: 'The refresh token is not valid.' },
  REFRESH_TOKEN_REUSED: {
    status: 401,
    retryable: false,
    message: 'The refresh token was already used; every session of this login was revoked.',
  },
  FORBIDDEN: { status: 403, retryable: false, message: 'You are not allowed to do this.' },
  CALLER_NOT_ALLOWED: {
    status: 403,
    retryable: false,
    message: 'This service may not call this endpoint.',
  },
  INSUFFICIENT_SCOPE: { status: 403, retryable: false, message: 'The API key lacks the needed scope.' },
  API_KEY_NOT_ALLOWED: {
    status: 403,
    retryable: false,
    message: 'This action needs a signed-in user, not an API key.',
  },
  RATING_NOT_ALLOWED: {
    status: 403,
    retryable: false,
    message: "Only the task's requester may rate it, and only once it is completed.",
  },
  TLS_REQUIRED: { status: 403, retryable: false, message: 'This server accepts HTTPS only.' },
  NOT_FOUND: { status: 404, retryable: false, message: 'The resource was not found.' },
  ROUTE_NOT_FOUND: { status: 404, retryable: false, message: 'No such route.' },
  EMAIL_TAKEN: { status: 409, retryable: false, message: 'An account with this email already exists.' },
  CONFLICT: { status: 409, retryable: false, message: 'The request conflicts with the current state.' },
  INSUFFICIENT_FUNDS: {
    status: 409,
    retryable: false,
    message: 'The available balance is too low for this amount.',
  },
  ACCOUNT_LIMIT_EXCEEDED: {
    status: 409,
    retryable: false,
    message: 'The balance would exceed the largest amount an account can hold.',
  },
  ACCOUNT_CLOSED: {
    status: 409,
    retryable: false,
    message: 'This account is closed: its owner erased it, so it can receive no money.',
  },
  ACCOUNT_NOT_EMPTY: {
    status: 409,
    retryable: false,
    message: 'The account still holds money: withdraw it and close every open channel first.',
  },
  AUCTION_CLOSED: { status: 409, retryable: false, message: 'The auction is closed or past its expiry.' },
  AGENT_UNAVAILABLE: { status: 409, retryable: false, message: 'The agent is not online.' },
  INVALID_TASK_STATE: {
    status: 409,
    retryable: false,
    message: 'The task is not in a status that allows this.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 409,
    retryable: false,
    message: 'This Idempotency-Key was already used with a different request.',
  },
  IDEMPOTENCY_REQUEST_IN_PROGRESS: {
    status: 409,
    retryable: true,
    message: 'A request with this Idempotency-Key is still in progress; retry shortly.',
  },
  CHANNEL_CLOSED: { status: 409, retryable: false, message: 'The payment channel is no longer open.' },
  CHANNEL_EXPIRED: { status: 409, retryable: false, message: 'The payment channel has expired.' },
  CHANNEL_NOT_EXPIRED: {
    status: 409,
    retryable: false,
    message: 'The payer may close the channel only after it expires.',
  },
  STALE_SEQUENCE_NUMBER: {
    status: 409,
    retryable: false,
    message: 'The sequence number must be higher than the last accepted one.',
  },
  CHANNEL_AMOUNT_INVALID: {
    status: 409,
    retryable: false,
    message: 'The cumulative amount must rise and stay within the channel deposit.',
  },
  ESCROW_CONFLICT: {
    status: 409,
    retryable: false,
    message: 'The escrow for this task is already settled differently.',
  },
  RATING_EXISTS: { status: 409, retryable: false, message: 'This task was already rated.' },
  CAPABILITY_MISSING: {
    status: 422,
    retryable: false,
    message: 'The agent lacks a capability the auction requires.',
  },
  REPUTATION_TOO_LOW: {
    status: 422,
    retryable: false,
    message: "The agent's reputation is below the auction's minimum.",
  },
  BID_ABOVE_MAX_PRICE: {
    status: 422,
    retryable: false,
    message: "The price is above the auction's max_price.",
  },
  BID_BELOW_RESERVE: {
    status: 422,
    retryable: false,
    message: "The price is below the auction's reserve_price.",
  },
  SELF_BIDDING: { status: 422, retryable: false, message: "The requester's own agents cannot bid." },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false, message: 'The request body is too large.' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    retryable: false,
    message: 'The request body must be application/json.',
  },
  RATE_LIMITED: { status: 429, retryable: true, message: 'Too many requests; retry later.' },
  INTERNAL: { status: 500, retryable: true, message: 'An internal error occurred.' },
  UNDECLARED_ERROR_CODE: {
    status: 500,
    retryable: false,
    message: 'The service answered an error code its contract does not declare.',
  },
  SERVICE_UNAVAILABLE: { status: 503, retryable: true, message: 'A service is unavailable; retry later.' },
  UPSTREAM_TIMEOUT: { status: 504, retryable: true, message: 'A service did not answer in time.' },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>;

export type ErrorCode = keyof typeof errorCatalog;

export const errorCodes = Object.keys(errorCatalog) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCatalog, value);
}

export function httpStatusOf(code: ErrorCode): number {
  return errorCatalog[code].status;
}
