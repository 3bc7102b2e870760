/**
 * Azure Blob Storage (and Azurite) list blob names in UTF-16 code-unit order, while the contract
 * orders keys by UTF-8 bytes (= code points). The two differ only where characters U+E000..U+FFFF
 * meet characters above U+FFFF (surrogate pairs). `encodeBlobName` is an order-preserving escape:
 * U+D7FF and U+E000..U+FFFF become two characters, U+D7FF followed by U+4DFF (for U+D7FF) or
 * U+4E00 + (c - U+E000), so that they sort after every other BMP character and before every
 * surrogate pair. Every other character, and so every ASCII key, is stored as it is.
 */
export function encodeBlobName(key: string): string {
  if (!NEEDS_ESCAPE.test(key)) return key;
  let out = '';
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === ESCAPE) out += String.fromCharCode(ESCAPE, SELF);
    else if (c >= 0xe000) out += String.fromCharCode(ESCAPE, BASE + (c - 0xe000));
    else out += key[i];
  }
  return out;
}

/** The inverse of `encodeBlobName`; names not written by it come back unchanged. */
export function decodeBlobName(name: string): string {
  if (!name.includes(String.fromCharCode(ESCAPE))) return name;
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const next = name.charCodeAt(i + 1);
    if (c === ESCAPE && next === SELF) {
      out += String.fromCharCode(ESCAPE);
      i++;
    } else if (c === ESCAPE && next >= BASE && next < BASE + 0x2000) {
      out += String.fromCharCode(0xe000 + (next - BASE));
      i++;
    } else {
      out += name[i];
    }
  }
  return out;
}

const ESCAPE = 0xd7ff;
const SELF = 0x4dff;
const BASE = 0x4e00;
const NEEDS_ESCAPE = /[\ud7ff\ue000-\uffff]/;
