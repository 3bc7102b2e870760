export * from './chunk.js';
export * from './errors.js';
export {
  BATCH_FORMAT_VERSION,
  BATCH_MAGIC,
  DEFAULT_MAX_HEADER_BYTES,
  HEADER_CRC_BYTES,
  HEADER_FIXED_BYTES,
  HEADER_PREAMBLE_BYTES,
  INDEX_ENTRY_BYTES,
  MIN_HEADER_BYTES,
} from './format.js';
export * from './header.js';
export * from './reader.js';
export * from './validate.js';
export * from './validate-parts.js';
