import { roles as allRoles, type Role } from '@zerostate/contracts';

export function userDid(userId: string): string {
  return `did:zerostate:user:${userId}`;
}

/**
 * Roles of every new account. Registration never grants more: emails are not verified, so any
 * rule keyed on the email could be claimed by whoever registers it first. Admins are made by an
 * operator with database access (`grant-admin`) or by another admin.
 */
export const initialRoles: readonly Role[] = ['user'];

/** Removes duplicates and orders roles as the contract lists them, so stored roles compare equal. */
export function normalizeRoles(requested: readonly Role[]): Role[] {
  return allRoles.filter((role) => requested.includes(role));
}
