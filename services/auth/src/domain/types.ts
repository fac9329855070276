import type { Role, Scope } from '@zerostate/contracts';

/** A user as the service reasons about it; the password hash never leaves the service. */
export interface UserAccount {
  id: string;
  email: string;
  name: string | null;
  did: string;
  roles: Role[];
  isSystem: boolean;
  isActive: boolean;
  passwordHash: string;
  createdAt: Date;
  lastLoginAt: Date | null;
}

/** What a user sees of their own account (`svc.auth.me`). */
export type UserProfile = Pick<
  UserAccount,
  'id' | 'email' | 'name' | 'did' | 'roles' | 'isActive' | 'createdAt' | 'lastLoginAt'
>;

export interface ApiKeyRecord {
  id: string;
  userId: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** Where a request came from, recorded with audit rows and refresh tokens. */
export interface RequestOrigin {
  requestId: string;
  ip: string | null;
  userAgent: string | null;
}
