/**
 * The metadata string of the offsets this adapter commits to Kafka, a JSON object:
 * - `messageIndex`: the next message in the pointer at the committed offset (absent: its first);
 * - `owner`, `released`: the member that committed, and whether it gave the partition up (the
 *   revoke phase, see `ownership.ts`);
 * - `clientMetadata`, or `clientMetadataBase64` when JSON escapes would make it longer: the
 *   client's string `storePositions` stored (absent: none).
 * Every field is optional, so metadata written by older versions parses; metadata that is not
 * such JSON (another tool's commit) reads as none of them.
 */
export interface CommitMetadata {
  messageIndex?: number;
  owner?: string;
  released?: boolean;
  clientMetadata?: string | null;
}

interface Encoded {
  owner?: unknown;
  messageIndex?: unknown;
  released?: unknown;
  clientMetadata?: unknown;
  clientMetadataBase64?: unknown;
}

export function parseCommitMetadata(metadata: string | null | undefined): CommitMetadata {
  if (!metadata) return {};
  let v: Encoded;
  try {
    const parsed = JSON.parse(metadata) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return {};
    v = parsed as Encoded;
  } catch {
    return {}; // metadata written by another tool
  }
  const out: CommitMetadata = {};
  const n = v.messageIndex;
  if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) out.messageIndex = n;
  if (typeof v.owner === 'string') out.owner = v.owner;
  if (v.released === true) out.released = true;
  if (typeof v.clientMetadata === 'string') out.clientMetadata = v.clientMetadata;
  else if (typeof v.clientMetadataBase64 === 'string') {
    out.clientMetadata = Buffer.from(v.clientMetadataBase64, 'base64').toString('utf8');
  }
  return out;
}

export function encodeCommitMetadata(m: CommitMetadata): string {
  const out: Encoded = {};
  if (m.owner !== undefined) out.owner = m.owner;
  if (m.messageIndex !== undefined) out.messageIndex = m.messageIndex;
  if (m.released) out.released = true;
  const client = m.clientMetadata;
  if (typeof client === 'string') {
    // Base64 bounds the encoded size (4/3 of the UTF-8 bytes) where JSON escapes (up to 6 per
    // byte) would exceed it, so MAX_POSITION_METADATA_BYTES always fits Kafka's metadata limit.
    const base64 = Buffer.from(client, 'utf8').toString('base64');
    if (Buffer.byteLength(JSON.stringify(client), 'utf8') <= base64.length + 2) out.clientMetadata = client;
    else out.clientMetadataBase64 = base64;
  }
  return JSON.stringify(out);
}

/** `messageIndex` from commit metadata `{"messageIndex":n}`; undefined when absent or not ours. */
export function parseMessageIndex(metadata: string | null | undefined): number | undefined {
  return parseCommitMetadata(metadata).messageIndex;
}

/**
 * Commit metadata for a position committed by `owner`; `clientMetadata` carries a stored
 * client string over when a member re-commits a position unchanged (claims and releases).
 */
export function commitMetadata(
  messageIndex: number | undefined,
  owner: string,
  released = false,
  clientMetadata: string | null = null,
): string {
  return encodeCommitMetadata({
    owner,
    ...(messageIndex === undefined ? {} : { messageIndex }),
    released,
    clientMetadata,
  });
}
