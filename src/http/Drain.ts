/**
 * Graceful-shutdown bookkeeping for the HTTP server: counts requests in flight
 * and, once draining starts, makes readiness fail and every response carry
 * `Connection: close` so clients move to another instance.
 */
import { Context, Duration, Effect, Layer, Schedule } from "effect"

/** Request accounting shared by the middleware, readiness and the shutdown sequence. */
export class Drain extends Context.Tag("lectern/Drain")<Drain, {
  readonly draining: () => boolean
  readonly inFlight: () => number
  readonly started: () => void
  readonly finished: () => void
  /** Starts draining and waits until no request is in flight, or `deadline` passes. */
  readonly drain: (deadline: Duration.DurationInput) => Effect.Effect<{ readonly abandoned: number }>
}>() {
  /** A fresh, not-draining state. */
  static readonly layer = Layer.sync(Drain, () => {
    let draining = false
    let inFlight = 0
    return {
      draining: () => draining,
      inFlight: () => inFlight,
      started: () => {
        inFlight++
      },
      finished: () => {
        inFlight--
      },
      drain: (deadline) =>
        Effect.gen(function*() {
          draining = true
          yield* Effect.logInfo("draining HTTP requests").pipe(Effect.annotateLogs({ in_flight: inFlight }))
          // Draining runs inside a finalizer (uninterruptible): the wait must be
          // interruptible explicitly or the deadline could never cut it short.
          yield* Effect.repeat(
            Effect.sync(() => inFlight),
            { schedule: Schedule.spaced("25 millis"), until: (n) => n <= 0 }
          ).pipe(Effect.interruptible, Effect.timeoutOption(deadline))
          return { abandoned: Math.max(0, inFlight) }
        })
    }
  })
}
