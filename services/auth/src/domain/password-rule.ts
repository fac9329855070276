import { passwordMaxBytes, passwordMinLength } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';

/**
 * The password rule (SPEC §4.1 leaves the choice to us): at least 12 characters, counted as code
 * points so that an emoji counts once, and at most 72 bytes of UTF-8 because bcrypt silently
 * ignores every byte past the 72nd.
 */
export function checkPasswordRule(password: string): void {
  if ([...password].length < passwordMinLength) {
    throw new AppError(
      'WEAK_PASSWORD',
      `The password must be at least ${passwordMinLength} characters long.`,
    );
  }
  if (Buffer.byteLength(password, 'utf8') > passwordMaxBytes) {
    throw new AppError('WEAK_PASSWORD', `The password must be at most ${passwordMaxBytes} bytes of UTF-8.`);
  }
}

/** Emails are stored and looked up trimmed and lower-cased, which makes them unique case-insensitively. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** The cost factor written in a bcrypt hash (`$2b$12$…`), or undefined when it is not a bcrypt hash. */
export function bcryptCostOf(hash: string): number | undefined {
  const match = /^\$2[abxy]\$(\d{2})\$/.exec(hash);
  return match ? Number(match[1]) : undefined;
}

/** A stored hash made at a lower cost than configured is replaced at the next successful login. */
export function needsRehash(hash: string, configuredCost: number): boolean {
  const cost = bcryptCostOf(hash);
  return cost === undefined || cost < configuredCost;
}
