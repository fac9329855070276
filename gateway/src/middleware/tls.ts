import { AppError } from '@zerostate/errors';
import type { RequestHandler } from 'express';

export interface TlsOnlyOptions {
  enabled: boolean;
}

/**
 * Refuses plain-HTTP requests when enabled. `req.secure` is true for a TLS socket, or when a peer
 * listed in Express's `trust proxy` says `X-Forwarded-Proto: https`; the header from anyone else
 * is ignored. The request is refused, never redirected: a redirect would mean the credentials it
 * carried already crossed the network in clear text, and clients would learn to ignore it.
 */
export function tlsOnly(options: TlsOnlyOptions): RequestHandler {
  return (request, _response, next) => {
    if (options.enabled && !request.secure) {
      next(new AppError('TLS_REQUIRED'));
      return;
    }
    next();
  };
}
