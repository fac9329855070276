// What `pnpm start` runs, read from each service's description (its package.json "zerostate"
// field) so a new service folder is started without editing anything here.

/**
 * The migrations to run to the end, then the long-running processes, for the repository at
 * `root`, with `listServices` from @zerostate/config. Services come first (with their bus
 * name, which names their link key), the gateway last (with the bus names it calls).
 */
export function startPlan(root, listServices) {
  const services = listServices(root);
  return {
    migrations: services.map((service) => ({ name: `${service.name} migration`, script: service.migrate })),
    processes: [
      ...services.map((service) => ({ name: service.name, script: service.main, bus: service.bus })),
      { name: 'gateway', script: 'gateway/dist/main.js', calls: services.map((service) => service.bus) },
    ],
  };
}
