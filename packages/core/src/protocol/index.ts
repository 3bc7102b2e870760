export * from './api.js';
export * from './cluster-metadata.js';
export * from './errors.js';
export * from './frame.js';
export * from './group-admin.js';
export * from './sasl.js';
export * from './throttle.js';
export * from './wire.js';
