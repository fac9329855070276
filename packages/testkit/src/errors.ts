import { AppError } from '@zerostate/errors';

/**
 * The catalog code a rule throws, or 'none' when it returns; anything but an AppError is a bug in
 * the rule and is rethrown. For unit tests of pure domain rules.
 */
export function codeOf(rule: () => unknown): string {
  try {
    rule();
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
  return 'none';
}
