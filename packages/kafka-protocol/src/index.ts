export * from './generated/index.js';
export {
  decodeRequestHeader,
  decodeResponseHeader,
  encodeRequestHeader,
  encodeResponseHeader,
  requestHeaderVersion,
  responseHeaderVersion,
} from './headers.js';
export { KafkaProtocolError, type KafkaProtocolErrorCode } from './wire/errors.js';
export { KafkaReader } from './wire/reader.js';
export { EMPTY_BYTES, isZeroUuid, uuidFromString, uuidToString, ZERO_UUID } from './wire/uuid.js';
export { KafkaWriter, type RecordsData, SEGMENT_THRESHOLD } from './wire/writer.js';
