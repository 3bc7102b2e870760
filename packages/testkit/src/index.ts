export * from './connection-fault-suite.js';
export * from './env.js';
export * from './fault-proxy.js';
export * from './kafka-sasl-env.js';
export * from './object-storage-suite.js';
export * from './pointer-queue-suite.js';
export * from './storage-fault-suite.js';
export * from './test-certificates.js';
