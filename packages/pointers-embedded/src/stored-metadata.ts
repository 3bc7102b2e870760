/**
 * The `metadata` column of the `committed` table says who wrote a position: a member's commit
 * (`{"memberId":…}`), a reset (`{"reset":true}`) or `storePositions` (`{"stored":true,
 * "clientMetadata":…}`). Only the last carries a client's string; it is kept as JSON so `null`
 * and `''` stay apart and older versions of this package still open the file.
 */
export function storedMetadataColumn(clientMetadata: string | null): string {
  return JSON.stringify({ stored: true, clientMetadata });
}

/** The client's string of a `metadata` column; `null` for positions written otherwise. */
export function clientMetadataOf(column: string | null): string | null {
  if (column === null) return null;
  try {
    const v = JSON.parse(column) as { stored?: unknown; clientMetadata?: unknown } | null;
    return v?.stored === true && typeof v.clientMetadata === 'string' ? v.clientMetadata : null;
  } catch {
    return null;
  }
}
