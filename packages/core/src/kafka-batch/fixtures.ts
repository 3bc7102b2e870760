/**
 * Record batches written by Kafka's Java client 4.1.2 (console producer, default idempotent
 * settings, one batch of two records per codec), as the Kafka 4.1.2 broker stored them (base
 * offset 0, leader epoch 0). Each holds, with headers, key and value:
 *
 *     h1=v1, h2=(empty)   k1   "value one"
 *     h3=x                k2   "value two " + 300 × "z"
 *
 * Test data only; not exported from the package.
 */
export const JAVA_BATCHES = {
  gzip: 'AAAAAAAAAAAAAAB8AAAAAALiBPQUAAEAAAABAAABojwbMDkAAAGiPBsxIQAAAAAAAABEAAAAAAAAAAAAAh+LCAAAAAAAAP8zY2BgYMk2FCpLzClNVcjPS2VhyTBkKTNkyTBi6GJluMDMxJJt9IYFIl1Snq9QNQqIBkwsGcZMFQD4+v//YwEAAA==',
  snappy:
    'AAAAAAAAAAAAAACNAAAAAAKXcAmzAAIAAAABAAABojwbhH4AAAGiPBuFaQAAAAAAAABMAAAAAAAAAAAAAoJTTkFQUFkAAAAAAQAAAAEAAABI4wKYNgAAAARrMRJ2YWx1ZSBvbmUEBGgxBHYxBGgyAIoFANYDAgRrMuwECR8QdHdvIHr+AQD+AQD+AQD+AQCqAQAUAgRoMwJ4',
  lz4: 'AAAAAAAAAAAAAAB8AAAAAAI9NUBgAAMAAAABAAABojwbw4kAAAGiPBvEcwAAAAAAAABQAAAAAAAAAAAAAgQiTRhgQII8AAAA8hg2AAAABGsxEnZhbHVlIG9uZQQEaDEEdjEEaDIAigUA1AMCBGsy7AQfAF90d28gegEA/xlgAgRoMwJ4AAAAAA==',
  zstd: 'AAAAAAAAAAAAAAB5AAAAAALuv/2NAAQAAAABAAABojwb+B4AAAGiPBv4UgAAAAAAAABVAAAAAAAAAAAAAii1L/0AWOQBABQDNgAAAARrMRJ2YWx1ZSBvbmUEBGgxBHYxBGgyAIgFAGgCBGsy7AR0d28gegIEaDMCeAIAKDilHTD1BAEAAA==',
} as const;

/** The two records each of `JAVA_BATCHES` holds. */
export const JAVA_RECORDS = [
  {
    key: 'k1',
    value: 'value one',
    headers: [
      ['h1', 'v1'],
      ['h2', ''],
    ],
  },
  { key: 'k2', value: `value two ${'z'.repeat(300)}`, headers: [['h3', 'x']] },
] as const;
