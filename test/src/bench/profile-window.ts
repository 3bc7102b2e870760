/**
 * A CPU profile cut to the samples of one time window, so that a broker's start (module
 * loading, compiling) and stop do not crowd out the workload it was profiled under.
 */
import type { TreeProfile } from './flamegraph-tree.js';

/** A profile's clock: `startTime`/`endTime` in microseconds, as V8 writes them. */
export type TimedProfile = TreeProfile & { startTime: number; endTime: number };

/**
 * The samples taken in the last `fromEndUs`..`toEndUs` microseconds before the profile ended
 * (`fromEndUs` > `toEndUs` >= 0). The profiler stops as the process exits, so times measured back
 * from the exit as a parent process saw it land within a few milliseconds of the truth.
 */
export function lastWindow(profile: TimedProfile, fromEndUs: number, toEndUs: number): TimedProfile {
  const from = profile.endTime - fromEndUs;
  const to = profile.endTime - toEndUs;
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < from || t > to) continue;
    samples.push(profile.samples[i]!);
    // Kept samples are consecutive, so their deltas stay right (the first one's is never read as
    // a sample's duration: profile-summary reads delta i+1 as sample i's).
    timeDeltas.push(profile.timeDeltas[i] ?? 0);
  }
  return { ...profile, samples, timeDeltas, startTime: Math.max(from, profile.startTime), endTime: to };
}
