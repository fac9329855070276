import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..');

/** A started process, its stdout kept line by line when captured. */
export interface RunningProcess {
  child: ChildProcess;
  lines: string[];
  /** Everything the process wrote to stderr, line by line (also echoed to this process's stderr). */
  errorLines: string[];
  stop(): Promise<void>;
}

export interface ProcessOptions {
  env: Record<string, string>;
  /** `source` runs TypeScript through tsx; `dist` runs the built JavaScript, as in production. */
  runtime: 'source' | 'dist';
  /** Another Node binary for the process (benchmarks compare Node versions). */
  nodeBinary?: string;
  /** Keep stdout lines in `lines` (tests read logs); otherwise stdout is dropped. */
  captureOutput: boolean;
}

/** Starts `entry` (a path below the repository, e.g. `gateway/src/main.ts`, or an absolute one). */
export function startProcess(entry: string, options: ProcessOptions): RunningProcess {
  const script = isAbsolute(entry) ? entry : join(repositoryRoot, entry);
  const args =
    options.runtime === 'source'
      ? ['--conditions=@zerostate/source', '--import', 'tsx', script]
      : ['--enable-source-maps', script];
  const child = spawn(options.nodeBinary ?? process.execPath, args, {
    cwd: repositoryRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', options.captureOutput ? 'pipe' : 'ignore', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter((line) => line.length > 0));
  });
  const errorLines: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => {
    errorLines.push(
      ...chunk
        .toString('utf8')
        .split('\n')
        .filter((line) => line.length > 0),
    );
    process.stderr.write(`[${entry}] ${chunk}`);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    lines,
    errorLines,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls until `probe` resolves true; throws naming `what` after the deadline. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
