import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { AppError } from '@zerostate/errors';

/** Hashes and checks passwords with bcrypt off the event loop. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
  /** Counters since creation: jobs the workers finished, and jobs dropped without running. */
  statistics(): PasswordHasherStatistics;
  stop(): Promise<void>;
}

export interface PasswordHasherStatistics {
  completed: number;
  dropped: number;
}

/**
 * How long a job may wait from enqueue until a worker takes it: under the 5 s timeout of the
 * login and register contracts, so work nobody waits for any more is never started.
 */
const passwordJobDeadlineMsDefault = 4_500;
/** Waiting jobs allowed per worker thread; more could not finish within the deadline anyway. */
const queuedJobsPerThreadMax = 16;

type Job = { operation: 'hash' | 'verify'; password: string; hash?: string; cost: number };
type Pending = Job & { resolve: (value: string | boolean) => void; reject: (error: Error) => void };
type Queued = Pending & { deadlineAt: number; expiry: NodeJS.Timeout };
type Slot = { worker: Worker; current?: Pending };

const busy = () => new AppError('SERVICE_UNAVAILABLE', 'The service is busy; retry later.');
const stopping = () => new AppError('SERVICE_UNAVAILABLE', 'The service is stopping.');

// Evaluated rather than loaded from a file so the same code runs under tsx, vitest and the
// compiled build; the worker requires bcryptjs by the path resolved here.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptPath);
parentPort.on('message', (job) => {
  try {
    const result = job.operation === 'hash'
      ? bcrypt.hashSync(job.password, job.cost)
      : bcrypt.compareSync(job.password, job.hash);
    parentPort.postMessage({ result });
  } catch (error) {
    parentPort.postMessage({ error: String((error && error.message) || error) });
  }
});`;

/** Waiting jobs in arrival order; each leaves to a worker or, past its deadline, is dropped. */
interface JobQueue {
  /** Queues the job, or refuses it at once as busy when the queue is full. */
  add(job: Pending): void;
  /** The oldest job still within its deadline; expired ones met on the way are dropped. */
  take(): Pending | undefined;
  /** Empties the queue (on stop) and returns what waited. */
  clear(): Pending[];
}

function createJobQueue(
  limits: { queueMax: number; deadlineMs: number },
  statistics: PasswordHasherStatistics,
): JobQueue {
  const jobs: Queued[] = [];
  const drop = (job: Queued) => {
    clearTimeout(job.expiry);
    statistics.dropped += 1;
    job.reject(busy());
  };
  // The timer answers the caller as soon as the deadline passes; the check in take() covers a
  // timer that has not fired yet because the event loop was busy.
  const expire = (job: Queued) => {
    const index = jobs.indexOf(job);
    if (index < 0) return;
    jobs.splice(index, 1);
    drop(job);
  };
  return {
    add: (job) => {
      if (jobs.length >= limits.queueMax) {
        statistics.dropped += 1;
        return job.reject(busy());
      }
      const queued: Queued = {
        ...job,
        deadlineAt: performance.now() + limits.deadlineMs,
        expiry: setTimeout(() => expire(queued), limits.deadlineMs),
      };
      jobs.push(queued);
    },
    take: () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) {
        if (performance.now() < job.deadlineAt) {
          clearTimeout(job.expiry);
          return job;
        }
        drop(job);
      }
      return undefined;
    },
    clear: () => {
      const waiting = jobs.splice(0);
      for (const job of waiting) clearTimeout(job.expiry);
      return waiting;
    },
  };
}

/**
 * A fixed pool of worker threads running bcryptjs. Jobs wait in a bounded queue, each with a
 * deadline: a full queue refuses a new job at once, and a job still waiting at its deadline is
 * dropped unhashed, both with SERVICE_UNAVAILABLE, so a flood of logins costs neither unbounded
 * latency nor CPU spent on answers the gateway has stopped waiting for.
 */
export function createPasswordHasher(options: {
  cost: number;
  threads: number;
  /** Waiting jobs allowed; default threads × 16. */
  queueMax?: number;
  /** Longest wait from enqueue to a worker taking the job; default 4.5 s. */
  deadlineMs?: number;
}): PasswordHasher {
  const bcryptPath = createRequire(import.meta.url).resolve('bcryptjs');
  const threads = Math.max(1, options.threads);
  const statistics: PasswordHasherStatistics = { completed: 0, dropped: 0 };
  const queue = createJobQueue(
    {
      queueMax: options.queueMax ?? threads * queuedJobsPerThreadMax,
      deadlineMs: options.deadlineMs ?? passwordJobDeadlineMsDefault,
    },
    statistics,
  );
  let stopped = false;

  const spawn = (): Slot => {
    const slot: Slot = { worker: new Worker(workerSource, { eval: true, workerData: { bcryptPath } }) };
    slot.worker.on('message', (message: { result?: string | boolean; error?: string }) => {
      const job = slot.current;
      slot.current = undefined;
      statistics.completed += 1;
      if (message.error === undefined) job?.resolve(message.result as string | boolean);
      else job?.reject(new Error(message.error));
      dispatch();
    });
    slot.worker.on('error', (error) => fail(slot, error));
    slot.worker.on('exit', () => fail(slot, new Error('password worker exited')));
    return slot;
  };
  // A crashed worker fails only its own job and is replaced, so the pool keeps its size.
  const fail = (slot: Slot, error: Error) => {
    slot.current?.reject(error);
    slot.current = undefined;
    const index = slots.indexOf(slot);
    if (index >= 0 && !stopped) slots[index] = spawn();
    dispatch();
  };
  const slots: Slot[] = Array.from({ length: threads }, spawn);

  const dispatch = () => {
    for (const slot of slots) {
      if (slot.current) continue;
      const job = queue.take();
      if (!job) return;
      slot.current = job;
      slot.worker.postMessage({
        operation: job.operation,
        password: job.password,
        hash: job.hash,
        cost: job.cost,
      });
    }
  };
  const submit = (job: Job) =>
    new Promise<string | boolean>((resolve, reject) => {
      if (stopped) return reject(stopping());
      queue.add({ ...job, resolve, reject });
      dispatch();
    });

  return {
    hash: async (password) => (await submit({ operation: 'hash', password, cost: options.cost })) as string,
    verify: async (password, hash) =>
      (await submit({ operation: 'verify', password, hash, cost: options.cost })) as boolean,
    statistics: () => ({ ...statistics }),
    stop: async () => {
      stopped = true;
      for (const job of queue.clear()) job.reject(stopping());
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
    },
  };
}
