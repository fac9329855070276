import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  deployRoot,
  listFiles,
  markdownAnchors,
  parseYamlFile,
  readText,
  repositoryRoot,
} from './support/files.js';
import { serviceDeployments } from './support/services.js';

/** Compose, the Dockerfile, the Prometheus rules and the deployment guide's links. */
const runbookDocument = 'docs/PRODUCTION_DEPLOYMENT.md';

interface ComposeService {
  image?: string;
  command?: string[];
  expose?: string[];
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  environment?: Record<string, string>;
  read_only?: boolean;
  cap_drop?: string[];
}

describe('docker-compose.yml', () => {
  const compose = parseYamlFile<{ services: Record<string, ComposeService> }>('docker-compose.yml');
  const services = compose.services;
  const conditions = ['service_started', 'service_healthy', 'service_completed_successfully'];
  const healthChecked = (name: string) => {
    const service = services[name]!;
    return (
      Boolean(service.healthcheck?.test) || (service.build !== undefined && !service.healthcheck?.disable)
    );
  };

  it('when dependencies are read, then every target exists and health conditions have a health check', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [target, dependency] of Object.entries(service.depends_on ?? {})) {
        expect(Object.keys(services), `${name} → ${target}`).toContain(target);
        expect(conditions).toContain(dependency.condition);
        if (dependency.condition === 'service_healthy') expect(healthChecked(target), target).toBe(true);
      }
    }
  });

  it('when the stack is read, then every process is there and NATS is checked with JetStream', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'postgres',
        'redis',
        'nats',
        'jaeger',
        'gateway',
        ...serviceDeployments.flatMap((service) => [service.name, `${service.name}-migrate`]),
      ].sort(),
    );
    expect(services.nats!.healthcheck!.test!.join(' ')).toMatch(/js-enabled-only/);
  });

  it('when each service starts, then its migration completed first and its health port is its admin port', () => {
    for (const service of serviceDeployments) {
      const server = services[service.name]!;
      const migration = services[`${service.name}-migrate`]!;
      expect(server.depends_on![`${service.name}-migrate`]!.condition).toBe('service_completed_successfully');
      expect(migration.depends_on!.postgres!.condition).toBe('service_healthy');
      expect(migration.command!.at(-1)).toBe(`${service.folder}/dist/migrate.js`);
      expect(services.gateway!.depends_on![service.name]!.condition, service.name).toBe('service_healthy');
      for (const container of [server, migration]) {
        expect(container.build!.args!.APP, service.name).toBe(service.folder);
        expect(container.image, service.name).toBe(`zerostate/${service.name}:dev`);
      }
      // The image's HEALTHCHECK asks HEALTH_PORT; the process listens on its admin port.
      const port = String(service.adminPort);
      expect(server.build!.args!.HEALTH_PORT, service.name).toBe(port);
      expect(server.environment![service.adminPortVariable], service.name).toBe(port);
      expect(server.expose, service.name).toEqual([port]);
    }
    const ready = services.gateway!.environment!.READY_SERVICES!.split(',');
    expect(ready.sort()).toEqual(serviceDeployments.map((service) => service.bus).sort());
  });

  it('when the database URLs are read, then each service has its own database, created at first start', () => {
    const created = [
      ...readText('deploy/compose/postgres-init/01-create-databases.sql').matchAll(
        /^CREATE DATABASE (\w+);$/gm,
      ),
    ].map((match) => match[1]);
    const databases = serviceDeployments.map((service) => {
      const url = services[service.name]!.environment![service.databaseVariable]!;
      expect(services[`${service.name}-migrate`]!.environment![service.databaseVariable]).toBe(url);
      return new URL(url.replace(/\$\{[^}]*\}/g, 'x')).pathname.slice(1);
    });
    expect(databases).toEqual(serviceDeployments.map((service) => service.databaseName));
    expect(new Set(databases).size).toBe(databases.length);
    for (const database of databases) expect(created, database).toContain(database);
  });

  it('when the app images are built, then each uses deploy/Dockerfile with an existing APP folder', () => {
    const built = Object.entries(services).filter(([, service]) => service.build);
    expect(built.map(([name]) => name).sort()).toEqual(
      [
        'gateway',
        ...serviceDeployments.flatMap((service) => [service.name, `${service.name}-migrate`]),
      ].sort(),
    );
    for (const [name, service] of built) {
      expect(service.build!.dockerfile, name).toBe('deploy/Dockerfile');
      const app = service.build!.args!.APP!;
      expect(existsSync(path.join(repositoryRoot, app, 'package.json')), `${name}: ${app}`).toBe(true);
      expect(service.read_only && service.cap_drop?.includes('ALL'), name).toBe(true);
    }
  });

  it('when the development secrets are read, then they are marked as such and well formed', () => {
    const text = readText('docker-compose.yml');
    expect(text).toMatch(/DEVELOPMENT ONLY/);
    const key = services.auth!.environment!.AUTH_KEY_ENCRYPTION_KEY!.match(/:-(.+)\}$/)![1]!;
    const decoded = Buffer.from(key, 'base64');
    expect(decoded).toHaveLength(32);
    expect(decoded.toString('utf8')).toMatch(/^dev-only/);
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = readText('deploy/Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const runtime = stages.at(-1)!;

  it('when the stages are read, then the runtime stage is Node 24, non-root and health-checked', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-[a-z]+-slim$/m);
    expect(runtime).toMatch(/^USER 1000:1000$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n\s+CMD \["node", "\/app\/deploy\/healthcheck\.mjs"\]/m);
    expect(runtime).not.toMatch(/pnpm install|COPY \. \./);
  });

  it('when files are copied from the build context, then each source exists and is not ignored', () => {
    const ignored = readText('.dockerignore');
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((match) =>
      match[1]!.split(' '),
    );
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources.filter((entry) => entry !== '.')) {
      expect(existsSync(path.join(repositoryRoot, source)), source).toBe(true);
      expect(ignored.split('\n'), source).not.toContain(source);
    }
  });
});

interface RuleGroup {
  name: string;
  rules: {
    alert?: string;
    record?: string;
    expr: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  }[];
}

describe('deploy/prometheus/rules.yml', () => {
  const groups = parseYamlFile<{ groups: RuleGroup[] }>('deploy/prometheus/rules.yml').groups;
  const rules = groups.flatMap((group) => group.rules);
  const alerts = rules.filter((rule) => rule.alert);
  const recorded = new Set(rules.flatMap((rule) => (rule.record ? [rule.record] : [])));

  it('when each alert is read, then it has a severity, a summary, a description and a runbook that exists', () => {
    const anchors = markdownAnchors(runbookDocument);
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    for (const alert of alerts) {
      expect(['critical', 'warning'], alert.alert).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary, alert.alert).toBeTruthy();
      expect(alert.annotations?.description, alert.alert).toBeTruthy();
      const [document, anchor] = alert.annotations!.runbook_url!.split('#');
      expect(document).toBe(runbookDocument);
      expect(anchors, alert.alert).toContain(anchor);
      expect(anchor).toBe(alert.alert!.toLowerCase());
    }
  });

  it('when expressions are read, then every recorded series they use is defined', () => {
    for (const rule of rules) {
      for (const used of rule.expr.match(/zerostate:[a-z0-9_:]+/g) ?? []) {
        expect(recorded, `${rule.alert ?? rule.record} uses ${used}`).toContain(used);
      }
    }
  });

  it('when the alerts are read, then each SPEC §6 signal is covered', () => {
    const expressionOf = (name: string) => rules.find((rule) => rule.record === name)?.expr ?? '';
    const expanded = alerts
      .map((alert) => alert.expr.replace(/zerostate:[a-z0-9_:]+/g, (name) => expressionOf(name)))
      .join('\n');
    for (const metric of [
      'db_connections_open',
      'http_requests_total',
      'payment_balance_invariant_violations_total',
      'auth_jwt_validation_failures_total',
      'auth_logins_total{result="failure"}',
      'rate_limit_requests_rejected_total',
      'nats_request_duration_seconds',
      'payment_reconciliation_last_run_timestamp_seconds',
      'events_dead_lettered_total',
    ]) {
      expect(expanded, metric).toContain(metric);
    }
  });
});

describe('documentation links', () => {
  it('when deployment files link to the production guide, then every anchor exists', () => {
    const anchors = markdownAnchors(runbookDocument);
    const files = [...listFiles(deployRoot, () => true), path.join(repositoryRoot, 'docker-compose.yml')];
    const links = files.flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/PRODUCTION_DEPLOYMENT\.md#([a-z0-9-]+)/g)].map(
        (match) => match[1]!,
      ),
    );
    expect(links.length).toBeGreaterThan(5);
    for (const anchor of links) expect(anchors, anchor).toContain(anchor);
  });
});
