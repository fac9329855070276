import type { ServiceDescription } from '@zerostate/config';

export interface StartPlan {
  migrations: { name: string; script: string }[];
  processes: { name: string; script: string; bus?: string; calls?: string[] }[];
}

export function startPlan(root: string, listServices: (root: string) => ServiceDescription[]): StartPlan;
