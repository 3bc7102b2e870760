/**
 * Runs the contract suite against `MemoryStorage` with the mutant named by `BARGE_MUTANT`
 * (behind a `BrokenGuard` for the mutants of the guarded preamble). Spawned by
 * `object-storage-suite.test.ts`, which expects it to fail; not a test file itself.
 */
import { describeObjectStorage } from '../object-storage-suite.js';
import { BrokenGuard } from './broken-guard.js';
import { isGuardMutant, MemoryStorage, MUTANTS, type Mutant } from './memory-storage.js';

const mutant = process.env.BARGE_MUTANT as Mutant | undefined;
if (mutant === undefined || !MUTANTS.includes(mutant)) {
  throw new Error(`BARGE_MUTANT must be one of ${MUTANTS.join(', ')}, got ${mutant}`);
}
const storage = () =>
  isGuardMutant(mutant) ? new BrokenGuard(new MemoryStorage(), mutant) : new MemoryStorage(mutant);
describeObjectStorage(`memory, mutant ${mutant}`, () => ({ storage: storage() }), {
  bulkDeleteCount: 1100,
});
