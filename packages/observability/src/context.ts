import { AsyncLocalStorage } from 'node:async_hooks';

/** What every log line written while handling one request or message should carry. */
export interface RequestContext {
  requestId: string;
  userId?: string | undefined;
  action?: string | undefined;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithRequestContext<T>(context: RequestContext, work: () => T): T {
  return storage.run(context, work);
}

export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}
