import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { AppError } from '@zerostate/errors';

/** Hashes and checks passwords with bcrypt off the event loop. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
  stop(): Promise<void>;
}

type Job = { operation: 'hash' | 'verify'; password: string; hash?: string; cost: number };
type Pending = Job & { resolve: (value: string | boolean) => void; reject: (error: Error) => void };
type Slot = { worker: Worker; current?: Pending };

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

/**
 * A fixed pool of worker threads running bcryptjs. Jobs wait in a bounded queue; when it is full
 * the call fails at once with SERVICE_UNAVAILABLE instead of letting latency grow without bound.
 */
export function createPasswordHasher(options: {
  cost: number;
  threads: number;
  queueMax?: number;
}): PasswordHasher {
  const bcryptPath = createRequire(import.meta.url).resolve('bcryptjs');
  const queueMax = options.queueMax ?? 256;
  const queue: Pending[] = [];
  let stopped = false;

  const spawn = (): Slot => {
    const slot: Slot = { worker: new Worker(workerSource, { eval: true, workerData: { bcryptPath } }) };
    slot.worker.on('message', (message: { result?: string | boolean; error?: string }) => {
      const job = slot.current;
      slot.current = undefined;
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
  const slots: Slot[] = Array.from({ length: Math.max(1, options.threads) }, spawn);

  const dispatch = () => {
    for (const slot of slots) {
      if (slot.current || queue.length === 0) continue;
      const job = queue.shift()!;
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
      if (stopped) return reject(new AppError('SERVICE_UNAVAILABLE', 'The service is stopping.'));
      if (queue.length >= queueMax) {
        return reject(
          new AppError('SERVICE_UNAVAILABLE', 'Too many password checks in progress; retry later.'),
        );
      }
      queue.push({ ...job, resolve, reject });
      dispatch();
    });

  return {
    hash: async (password) => (await submit({ operation: 'hash', password, cost: options.cost })) as string,
    verify: async (password, hash) =>
      (await submit({ operation: 'verify', password, hash, cost: options.cost })) as boolean,
    stop: async () => {
      stopped = true;
      for (const job of queue.splice(0))
        job.reject(new AppError('SERVICE_UNAVAILABLE', 'The service is stopping.'));
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
    },
  };
}
