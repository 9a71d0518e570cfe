/*
 * Public surface of the e2e harness (real nginx + LB simulator + ws app + raw-socket driver).
 * Re-exports only; each module's header says what it owns.
 */
export * from './app.js';
export * from './driver.js';
export * from './lb.js';
export * from './logs.js';
export * from './nginx.js';
export * from './scenario.js';
