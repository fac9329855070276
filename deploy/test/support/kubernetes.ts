import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler, type IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { type IJob, Job } from 'kubernetes-models/batch/v1';
import { type INetworkPolicy, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { type IPodDisruptionBudget, PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import {
  ConfigMap,
  type IConfigMap,
  type INamespace,
  type IService,
  type IServiceAccount,
  Namespace,
  Service,
  ServiceAccount,
} from 'kubernetes-models/v1';
import { parse } from 'yaml';
import { isDirectory, parseYamlDocuments } from './files.js';

export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface Kustomization {
  resources?: string[];
  components?: string[];
  patches?: { path?: string; patch?: string; target?: { kind?: string; name?: string } }[];
  configMapGenerator?: { name: string; behavior?: string; literals?: string[] }[];
  secretGenerator?: unknown[];
  patchesStrategicMerge?: unknown;
  images?: { name: string; newName?: string; newTag?: string }[];
}

/**
 * One validator per kind this repository ships. A kind missing here fails the suite, so a new
 * kind cannot slip in unvalidated.
 */
const validators: Record<string, (object: unknown) => void> = {
  'apps/v1/Deployment': (object) => new Deployment(object as IDeployment).validate(),
  'batch/v1/Job': (object) => new Job(object as IJob).validate(),
  'v1/Service': (object) => new Service(object as IService).validate(),
  'v1/ServiceAccount': (object) => new ServiceAccount(object as IServiceAccount).validate(),
  'v1/ConfigMap': (object) => new ConfigMap(object as IConfigMap).validate(),
  'v1/Namespace': (object) => new Namespace(object as INamespace).validate(),
  'autoscaling/v2/HorizontalPodAutoscaler': (object) =>
    new HorizontalPodAutoscaler(object as IHorizontalPodAutoscaler).validate(),
  'policy/v1/PodDisruptionBudget': (object) =>
    new PodDisruptionBudget(object as IPodDisruptionBudget).validate(),
  'networking.k8s.io/v1/NetworkPolicy': (object) => new NetworkPolicy(object as INetworkPolicy).validate(),
};

/** Validates one object against the Kubernetes OpenAPI schema of its kind; throws on failure. */
export function validateKubernetesObject(object: KubernetesObject): void {
  const validate = validators[`${object.apiVersion}/${object.kind}`];
  if (!validate) throw new Error(`no schema validator for ${object.apiVersion} ${object.kind}`);
  validate(object);
}

export function readKustomization(directory: string): Kustomization {
  return parse(readFileSync(path.join(directory, 'kustomization.yaml'), 'utf8')) as Kustomization;
}

/** Every complete object a kustomization tree declares through `resources` (not patches). */
export function collectResources(directory: string): { file: string; object: KubernetesObject }[] {
  const collected: { file: string; object: KubernetesObject }[] = [];
  for (const entry of readKustomization(directory).resources ?? []) {
    const target = path.join(directory, entry);
    if (isDirectory(target)) {
      collected.push(...collectResources(target));
      continue;
    }
    for (const object of parseYamlDocuments(target)) {
      collected.push({ file: target, object: object as KubernetesObject });
    }
  }
  return collected;
}

/** Every ConfigMap a kustomization tree generates, by name, with its literals as a record. */
export function collectGeneratedConfigMaps(directory: string): Map<string, Record<string, string>> {
  const generated = new Map<string, Record<string, string>>();
  const kustomization = readKustomization(directory);
  for (const entry of kustomization.resources ?? []) {
    const target = path.join(directory, entry);
    if (isDirectory(target)) {
      for (const [name, values] of collectGeneratedConfigMaps(target)) generated.set(name, values);
    }
  }
  for (const generator of kustomization.configMapGenerator ?? []) {
    const values = Object.fromEntries(
      (generator.literals ?? []).map((literal) => {
        const separator = literal.indexOf('=');
        return [literal.slice(0, separator), literal.slice(separator + 1)];
      }),
    );
    generated.set(generator.name, { ...generated.get(generator.name), ...values });
  }
  return generated;
}

/** Paths a kustomization names that do not exist on disk. */
export function missingKustomizationPaths(directory: string): string[] {
  const kustomization = readKustomization(directory);
  const missing: string[] = [];
  for (const entry of [...(kustomization.resources ?? []), ...(kustomization.components ?? [])]) {
    const target = path.join(directory, entry);
    const exists = isDirectory(target)
      ? existsSync(path.join(target, 'kustomization.yaml'))
      : existsSync(target);
    if (!exists) missing.push(entry);
  }
  for (const patch of kustomization.patches ?? []) {
    if (patch.path && !existsSync(path.join(directory, patch.path))) missing.push(patch.path);
  }
  return missing;
}
