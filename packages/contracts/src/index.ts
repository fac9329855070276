export * from './auction.js';
export * from './auth.js';
export * from './common.js';
export * from './endpoint.js';
export * from './payment.js';
export * from './principal.js';
export * from './reputation.js';
export * from './task.js';
