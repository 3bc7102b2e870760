import type { Message } from 'kafkajs';

/** Splits messages into sends of at most about `maxBytes` (value bytes plus a per-message allowance), in order. */
export function chunkBySize(messages: Message[], maxBytes: number): Message[][] {
  const out: Message[][] = [];
  let cur: Message[] = [];
  let size = 0;
  for (const m of messages) {
    const n = (m.value as Buffer).length + 64;
    if (cur.length > 0 && size + n > maxBytes) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(m);
    size += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
