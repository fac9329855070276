import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';

/** The subset of NATS headers the propagator needs; keeps this package free of NATS. */
export interface HeaderCarrier {
  get(key: string): string;
  set(key: string, value: string): void;
  keys(): string[];
}

const setter: TextMapSetter<HeaderCarrier> = { set: (carrier, key, value) => carrier.set(key, value) };
const getter: TextMapGetter<HeaderCarrier> = {
  get: (carrier, key) => carrier.get(key) || undefined,
  keys: (carrier) => carrier.keys(),
};

/** Writes the active W3C trace context (traceparent, tracestate) into outgoing headers. */
export function injectTraceContext(headers: HeaderCarrier): void {
  propagation.inject(context.active(), headers, setter);
}

/** Reads W3C trace context from incoming headers; an absent one yields the root context. */
export function extractTraceContext(headers: HeaderCarrier | undefined): Context {
  return headers ? propagation.extract(ROOT_CONTEXT, headers, getter) : ROOT_CONTEXT;
}
