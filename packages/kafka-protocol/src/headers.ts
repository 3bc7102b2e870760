import { API, apiByKey } from './generated/api-table.js';
import {
  decodeRequestHeaderData,
  encodeRequestHeaderData,
  type RequestHeader,
} from './generated/request-header.js';
import {
  decodeResponseHeaderData,
  encodeResponseHeaderData,
  type ResponseHeader,
} from './generated/response-header.js';
import type { KafkaReader } from './wire/reader.js';
import type { KafkaWriter } from './wire/writer.js';

/**
 * The request header version a request of `apiKey` at `apiVersion` uses: 2 (a tagged-field
 * section after the client id, which keeps its int16 length) from the API's first flexible
 * version, else 1. For an API key this package does not know, 1: its first four fields are the same in
 * every version, so the listener can still read the correlation id and answer with an error.
 *
 * The listener reads apiKey and apiVersion from the frame's first four bytes (int16 each) first.
 */
export function requestHeaderVersion(apiKey: number, apiVersion: number): 1 | 2 {
  const api = apiByKey(apiKey);
  return api !== undefined && api.flexibleMin !== null && apiVersion >= api.flexibleMin ? 2 : 1;
}

/**
 * The response header version for a request of `apiKey` at `apiVersion`: 1 (with a tagged-field
 * section) from the API's first flexible version, else 0. ApiVersions responses always use v0,
 * so a client that sent a version the broker does not know can still parse the error.
 */
export function responseHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 {
  if (apiKey === API.ApiVersions.apiKey) return 0;
  const api = apiByKey(apiKey);
  return api !== undefined && api.flexibleMin !== null && apiVersion >= api.flexibleMin ? 1 : 0;
}

/** Decodes a request header (version from `requestHeaderVersion`); unknown tagged fields are skipped. */
export function decodeRequestHeader(r: KafkaReader, headerVersion: number): RequestHeader {
  return decodeRequestHeaderData(r, headerVersion);
}

export function encodeRequestHeader(w: KafkaWriter, headerVersion: number, header: RequestHeader): void {
  encodeRequestHeaderData(w, headerVersion, header);
}

/** Writes a response header (version from `responseHeaderVersion`). */
export function encodeResponseHeader(w: KafkaWriter, headerVersion: number, correlationId: number): void {
  encodeResponseHeaderData(w, headerVersion, { correlationId });
}

export function decodeResponseHeader(r: KafkaReader, headerVersion: number): ResponseHeader {
  return decodeResponseHeaderData(r, headerVersion);
}
