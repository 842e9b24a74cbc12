/**
 * A token bucket for per-connection limits (commands, malformed frames): `burst`
 * tokens, refilled at `perSecond`. Plain state, no fibers or refs: a connection
 * owns it and passes the time (from `Clock`) to each take.
 */

/** A token bucket. */
export class TokenBucket {
  private tokens: number
  private last: number

  /** A full bucket of `burst` tokens refilled at `perSecond`, starting at `now` (ms). */
  constructor(private readonly burst: number, private readonly perSecond: number, now: number) {
    this.tokens = burst
    this.last = now
  }

  /** Takes one token at `now` (ms): 0 when granted, else the milliseconds until one is available. */
  take(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000)
    this.last = now
    if (this.tokens >= 1) {
      this.tokens -= 1
      return 0
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.perSecond)
  }
}
