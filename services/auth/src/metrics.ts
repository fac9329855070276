import { counter, type Registry } from '@zerostate/observability';

/** The auth service's own metrics, registered in the service's registry. */
export function createAuthMetrics(registry: Registry) {
  return {
    tokensIssued: counter(registry, 'auth_jwt_tokens_issued_total', 'Tokens issued, by type.', ['type']),
    apiKeyValidations: counter(
      registry,
      'auth_api_key_validations_total',
      'API key verifications, by result (valid or invalid).',
      ['result'],
    ),
    logins: counter(registry, 'auth_logins_total', 'Login attempts, by result (success or failure).', [
      'result',
    ]),
  };
}

export type AuthMetrics = ReturnType<typeof createAuthMetrics>;
