export * from './chunk.js';
export { compressKafkaRecords, decompressKafkaRecords } from './compression.js';
export { crc32c } from './crc32c.js';
export * from './encode.js';
export * from './header.js';
export * from './records.js';
