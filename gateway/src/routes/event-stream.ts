import { decodeJson, type NatsConnection, type PrincipalSigner, request } from '@zerostate/bus';
import { taskLifecycleEvents, terminalTaskStatuses } from '@zerostate/contracts';
import { AppError, toAppError } from '@zerostate/errors';
import type { Histogram, Logger } from '@zerostate/observability';
import type { RequestHandler } from 'express';
import { callContextOf, callerOf, checkAccess } from '../auth/identify.js';
import type { RouteSpec } from './route.js';

/**
 * Who watches which task on this gateway: one NATS subscription to the task service's status
 * notices (`evt.task.task.status-changed`, published through its outbox) fans out to the streams
 * open for that task. A notice only says "look again": each stream then reads the task through
 * `task.get` as its own caller, so nobody sees more than a plain GET would show them.
 */
export interface TaskWatchers {
  watch(taskId: string, onChange: () => void): () => void;
}

export function createTaskWatchers(nc: NatsConnection, logger: Logger): TaskWatchers {
  const watchers = new Map<string, Set<() => void>>();
  nc.subscribe(taskLifecycleEvents.statusChanged.subject, {
    callback: (error, message) => {
      if (error) return;
      try {
        const envelope = decodeJson(message.data) as { data?: unknown };
        const parsed = taskLifecycleEvents.statusChanged.payload.safeParse(envelope.data);
        if (!parsed.success) return;
        for (const onChange of watchers.get(parsed.data.task_id) ?? []) onChange();
      } catch (caught) {
        logger.warn({ err: caught }, 'unreadable task status notice');
      }
    },
  });
  return {
    watch(taskId, onChange) {
      const set = watchers.get(taskId) ?? new Set();
      set.add(onChange);
      watchers.set(taskId, set);
      return () => {
        set.delete(onChange);
        if (set.size === 0) watchers.delete(taskId);
      };
    },
  };
}

/**
 * `GET /tasks/{id}/events` (SPEC §5b): `text/event-stream`, one `status` event with the task as
 * `data` now and at every change, a comment line every `heartbeatMs` (which also re-reads the task,
 * in case a notice was missed), closed after a terminal status. Access, scope and the rate limit
 * are those of any route; a task the caller may not see is a plain 404 before the stream opens.
 */
export function eventStreamHandler(
  spec: RouteSpec,
  dependencies: {
    nc: NatsConnection;
    latency: Histogram<string>;
    signer: PrincipalSigner;
    watchers: TaskWatchers;
    heartbeatMs: number;
    logger: Logger;
  },
): RequestHandler {
  const { nc, latency, signer, watchers, heartbeatMs, logger } = dependencies;
  return async (req, res) => {
    checkAccess(spec, callerOf(res).principal);
    const parsed = spec.endpoint.request.safeParse({ ...req.params });
    if (!parsed.success) throw new AppError('VALIDATION_FAILED');
    const taskId = String((parsed.data as { id: string }).id);
    const read = () =>
      request(nc, spec.endpoint, parsed.data, callContextOf(req, res), { latency, signer }) as Promise<{
        status: string;
      }>;

    let closed = false;
    let reading: Promise<void> = Promise.resolve();
    let lastSent = '';
    // Watch before the first read, so a change between the two is not missed.
    const unwatch = watchers.watch(taskId, () => refresh());
    const first = await read().catch((error: unknown) => {
      unwatch();
      throw error;
    });
    res.status(200).set({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    const heartbeat = setInterval(() => {
      if (closed) return;
      res.write(': heartbeat\n\n');
      refresh();
    }, heartbeatMs);
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      unwatch();
      res.end();
    };
    // The response closes when the client goes away (or after `res.end()`); either way, stop.
    res.on('close', close);
    const send = (task: { status: string }) => {
      if (closed) return;
      const data = JSON.stringify(task);
      if (data !== lastSent) {
        lastSent = data;
        res.write(`event: status\ndata: ${data}\n\n`);
      }
      if ((terminalTaskStatuses as readonly string[]).includes(task.status)) close();
    };
    // Reads one at a time, in order, so an older answer never overtakes a newer one.
    function refresh() {
      reading = reading.then(async () => {
        if (closed) return;
        try {
          send(await read());
        } catch (error) {
          if (toAppError(error).code === 'NOT_FOUND') close();
          else logger.warn({ err: error, task_id: taskId }, 'task event stream could not read the task');
        }
      });
    }
    send(first);
  };
}
