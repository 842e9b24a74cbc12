/**
 * A clock that runs at real speed but can be moved forward, for tests that need
 * hours to pass inside a shared server stack (where TestClock would also stop the
 * database layers' own timers). Use with `Effect.withClock`.
 */
import { Clock, Duration, Effect } from "effect"

/** A real clock plus an adjustable offset. */
export const makeShiftClock = () => {
  const live = Clock.make()
  let offsetMs = 0
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => live.unsafeCurrentTimeMillis() + offsetMs,
    unsafeCurrentTimeNanos: () => live.unsafeCurrentTimeNanos() + BigInt(offsetMs) * 1_000_000n,
    currentTimeMillis: Effect.sync(() => live.unsafeCurrentTimeMillis() + offsetMs),
    currentTimeNanos: Effect.sync(() => live.unsafeCurrentTimeNanos() + BigInt(offsetMs) * 1_000_000n),
    sleep: (duration) => live.sleep(duration)
  }
  /** Moves the clock forward. */
  const adjust = (d: Duration.DurationInput) => Effect.sync(() => void (offsetMs += Duration.toMillis(d)))
  return { clock, adjust } as const
}
