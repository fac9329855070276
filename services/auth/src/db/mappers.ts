import type { Role, Scope } from '@zerostate/contracts';
import type { ApiKeyRecord, UserAccount } from '../domain/types.js';
import type { ApiKey as ApiKeyRow, User as UserRow } from '../generated/prisma/client.js';

// Roles and scopes are stored as text arrays; only this service writes them, from the contract enums.
export function toUserAccount(row: UserRow): UserAccount {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    did: row.did,
    roles: row.roles as Role[],
    isSystem: row.isSystem,
    isActive: row.isActive,
    passwordHash: row.passwordHash,
    createdAt: row.createdAt,
    lastLoginAt: row.lastLoginAt,
  };
}

export function toApiKeyRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    userId: row.userId,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes as Scope[],
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
  };
}
