/**
 * The service kit: a NATS service is a description (name, database, endpoints, event consumers,
 * periodic jobs, readiness checks) that this package builds, starts and stops.
 */
export {};
