import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { repositoryRoot } from '@zerostate/testkit';

// "Where the time goes": V8 CPU profiles (`--cpu-prof`) of the stack's processes, summed as self
// time per package. `BENCH_PROFILE=<dir> pnpm bench users-me` writes them (see docs/BENCHMARKS.md).

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The package a frame belongs to: a dependency, a workspace package, Node itself or V8. */
export function packageOf(url: string, functionName: string): string {
  if (url === '') {
    if (functionName === '(garbage collector)') return '(garbage collector)';
    if (functionName === '(idle)' || functionName === '(program)') return functionName;
    return '(native / V8 builtins)';
  }
  const dependency = url.match(/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/);
  if (dependency) return dependency[1]!;
  if (url.startsWith('wasm://')) return '(wasm: Prisma query compiler)';
  if (url.startsWith('node:')) {
    const internal = url.replace(/^node:(internal\/)?/, '').split('/')[0]!;
    return `node:${internal}`;
  }
  const workspace = url.match(/\/(gateway|packages\/[^/]+|services\/[^/]+)\/(?:dist|src)\//);
  if (workspace) return `@zerostate/${workspace[1]!.replace(/^(packages|services)\//, '')} (own code)`;
  return url;
}

export interface ProfileSummary {
  process: string;
  busyMs: number;
  rows: { name: string; ms: number; share: number }[];
}

/**
 * Self time per package. A V8 builtin or native function (no URL: JSON.parse, a crypto binding,
 * a regular expression) counts toward the package that called it, so the table says whose work
 * it was; only garbage collection and unattributable native time stay on their own rows.
 */
export function summarizeProfile(process: string, profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, ProfileNode>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node);
  const owner = (start: ProfileNode): string => {
    let node: ProfileNode | undefined = start;
    while (node && node.callFrame.url === '') {
      const special = packageOf('', node.callFrame.functionName);
      if (special !== '(native / V8 builtins)') return special;
      node = parentOf.get(node.id);
    }
    return node ? packageOf(node.callFrame.url, node.callFrame.functionName) : '(native / V8 builtins)';
  };
  const selfUs = new Map<string, number>();
  profile.samples.forEach((id, index) => {
    const name = owner(byId.get(id)!);
    selfUs.set(name, (selfUs.get(name) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  selfUs.delete('(idle)');
  const busyUs = [...selfUs.values()].reduce((sum, value) => sum + value, 0);
  const rows = [...selfUs.entries()]
    .map(([name, us]) => ({ name, ms: us / 1000, share: us / busyUs }))
    .sort((a, b) => b.ms - a.ms);
  return { process, busyMs: busyUs / 1000, rows };
}

/** Every process profiled in `dir` (`<app>.<pid>.<n>.cpuprofile`, one per slice), slices added up, largest first. */
export function summarizeProfiles(dir: string): ProfileSummary[] {
  const byProcess = new Map<string, ProfileSummary>();
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'))) {
    const process = file.split('.')[0]!;
    const slice = summarizeProfile(process, JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile);
    const sum = byProcess.get(process);
    byProcess.set(process, sum ? addSummaries(sum, slice) : slice);
  }
  return [...byProcess.values()].sort((a, b) => b.busyMs - a.busyMs);
}

function addSummaries(a: ProfileSummary, b: ProfileSummary): ProfileSummary {
  const ms = new Map(a.rows.map((row) => [row.name, row.ms]));
  for (const row of b.rows) ms.set(row.name, (ms.get(row.name) ?? 0) + row.ms);
  const busyMs = a.busyMs + b.busyMs;
  const rows = [...ms.entries()]
    .map(([name, rowMs]) => ({ name, ms: rowMs, share: rowMs / busyMs }))
    .sort((x, y) => y.ms - x.ms);
  return { process: a.process, busyMs, rows };
}

/** A markdown table per process: self time by package, the top `limit` rows and the rest. */
export function printProfiles(summaries: ProfileSummary[], requests: number, limit = 12): void {
  for (const summary of summaries) {
    console.log(
      `\n${summary.process}: ${summary.busyMs.toFixed(0)} ms busy during the measured run${requests > 0 ? `, ${(summary.busyMs / requests).toFixed(3)} ms per request (profiler on)` : ''}`,
    );
    console.log('| package (self time) | ms | share of busy time |');
    console.log('|---|---|---|');
    const top = summary.rows.slice(0, limit);
    const rest = summary.rows.slice(limit).reduce((sum, row) => sum + row.ms, 0);
    for (const row of top)
      console.log(`| ${row.name} | ${row.ms.toFixed(0)} | ${(row.share * 100).toFixed(1)}% |`);
    if (rest > 0) {
      console.log(
        `| everything else | ${rest.toFixed(0)} | ${((rest / summary.busyMs) * 100).toFixed(1)}% |`,
      );
    }
  }
}

/** Where BENCH_PROFILE asks for profiles (`1`: a fresh temporary folder), or undefined. */
export function profileDirFromEnv(): string | undefined {
  const asked = process.env.BENCH_PROFILE;
  if (!asked) return undefined;
  return resolve(asked === '1' ? mkdtempSync(join(tmpdir(), 'zs-prof-')) : asked);
}

/** The environment that loads the profile hook into every process of a stack. */
export function profilingEnv(dir: string | undefined): Record<string, string> {
  if (!dir) return {};
  mkdirSync(dir, { recursive: true });
  return {
    NODE_OPTIONS: `--import=${join(repositoryRoot, 'bench/src/cpu-profile-hook.mjs')}`,
    BENCH_PROFILE_DIR: dir,
  };
}

/** Starts (first call) or stops and writes (second call) the profiles of these processes. */
export function toggleProfiles(children: ChildProcess[]): void {
  for (const child of children) child.kill('SIGUSR2');
}

/** Profiles are written as the processes handle the signal; give them a moment. */
export const profileWritten = () => new Promise((done) => setTimeout(done, 1_000));
