/**
 * A token bucket for per-connection limits (commands, malformed frames): `burst`
 * tokens, refilled at `perSecond`. Time comes from `Clock`. Owned by one fiber,
 * so it needs no lock.
 */
import { Clock, Effect } from "effect"

/** A token bucket. */
export interface TokenBucket {
  /** Takes one token: 0 when granted, else the milliseconds until one is available. */
  readonly take: Effect.Effect<number>
}

/** Constructors. */
export const TokenBucket = {
  /** A full bucket of `burst` tokens refilled at `perSecond`. */
  make: (burst: number, perSecond: number): Effect.Effect<TokenBucket> =>
    Effect.map(Clock.currentTimeMillis, (start) => {
      let tokens = burst
      let last = start
      return {
        take: Effect.map(Clock.currentTimeMillis, (now) => {
          tokens = Math.min(burst, tokens + ((now - last) * perSecond) / 1000)
          last = now
          if (tokens >= 1) {
            tokens -= 1
            return 0
          }
          return Math.ceil(((1 - tokens) * 1000) / perSecond)
        })
      }
    })
}
