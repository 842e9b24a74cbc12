/**
 * The pure rules of calls, apart from storage: which call role a lesson relation
 * gets, and whether (and why) a live session is overdue at a given instant.
 */
import { DateTime, Duration, Option } from "effect"
import type { CallsConfig } from "../layers/AppConfig.ts"
import type { CallEndReason, CallRole } from "../schemas/Calls.ts"
import type { LessonRole } from "./LessonAccess.ts"

/** tutor → HOST, student → PARTICIPANT, admin → VIEWER. */
export const roleOf = (as: LessonRole): CallRole => as === "tutor" ? "HOST" : as === "student" ? "PARTICIPANT" : "VIEWER"

/** The timing facts of a live session. */
export interface SessionTimes {
  readonly status: "waiting" | "active" | "ended"
  readonly createdAt: DateTime.Utc
  readonly emptySince: DateTime.Utc | null
  readonly expiresAt: DateTime.Utc
}

/**
 * Why a live session should end at `at` (epoch millis), if it should: the
 * lifetime first, then the empty timeout, then the idle timeout of a session
 * that never had two people in it.
 */
export const overdueReason = (
  row: SessionTimes,
  at: number,
  config: Pick<CallsConfig, "emptyTimeout" | "idleTimeout">
): Option.Option<CallEndReason> => {
  if (at >= DateTime.toEpochMillis(row.expiresAt)) return Option.some("max_lifetime")
  if (row.emptySince !== null && at - DateTime.toEpochMillis(row.emptySince) >= Duration.toMillis(config.emptyTimeout)) {
    return Option.some("empty")
  }
  if (row.status === "waiting" && at - DateTime.toEpochMillis(row.createdAt) >= Duration.toMillis(config.idleTimeout)) {
    return Option.some("idle")
  }
  return Option.none()
}

/** How often a process holding a call checks its timeouts and heartbeats its participants. */
export const tickFor = (config: Pick<CallsConfig, "emptyTimeout" | "idleTimeout">): Duration.Duration => {
  const shortest = Math.min(Duration.toMillis(config.emptyTimeout), Duration.toMillis(config.idleTimeout))
  return Duration.millis(Math.max(50, Math.min(15_000, shortest / 4)))
}

/**
 * A participant without a heartbeat for this long is taken out of the call: its
 * process died. Several ticks, and never under 30 s, so a busy process is not mistaken for a dead one.
 */
export const staleAfter = (config: Pick<CallsConfig, "emptyTimeout" | "idleTimeout">): Duration.Duration =>
  Duration.millis(Math.max(30_000, 3 * Duration.toMillis(tickFor(config))))
