/**
 * Names of audit-log actions. They are stable: dashboards, alerts and investigations query them,
 * so rename none; add new ones instead.
 */
export const auditActions = [
  'user_registered',
  'login_succeeded',
  'login_failed',
  'refresh_reuse_detected',
  'logout',
  'password_changed',
  'api_key_created',
  'api_key_revoked',
  'signing_key_rotated',
  'roles_changed',
  'data_exported',
  'account_erased',
  'user_deactivated',
  'user_reactivated',
  'sessions_revoked',
  'api_keys_revoked',
] as const;

export type AuditAction = (typeof auditActions)[number];
