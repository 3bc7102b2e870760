export { OffsetIndex, type OffsetIndexOptions } from './offset-index.js';
export { OffsetStamper } from './offset-stamper.js';
export {
  type BargePosition,
  type IndexedPointer,
  type Located,
  type PartitionIndexOptions,
  PartitionOffsetIndex,
} from './partition-index.js';
export { nextOffsetFromTail } from './tail.js';
