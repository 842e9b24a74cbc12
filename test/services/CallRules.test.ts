import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Option } from "effect"
import { overdueReason, roleOf } from "../../src/services/CallRules.ts"

const t0 = DateTime.unsafeMake("2026-06-01T15:00:00Z")
const at = (d: Duration.DurationInput) => DateTime.toEpochMillis(t0) + Duration.toMillis(d)
const config = { emptyTimeout: Duration.minutes(2), idleTimeout: Duration.minutes(15) }
const session = (overrides: Partial<Parameters<typeof overdueReason>[0]> = {}) => ({
  status: "active" as const,
  createdAt: t0,
  emptySince: null,
  expiresAt: DateTime.addDuration(t0, Duration.hours(4)),
  ...overrides
})

describe("call rules", () => {
  it("roles follow the lesson relation", () => {
    expect([roleOf("tutor"), roleOf("student"), roleOf("admin")]).toEqual(["HOST", "PARTICIPANT", "VIEWER"])
  })

  it("a session is overdue exactly at each deadline, lifetime first", () => {
    const reason = (s: Parameters<typeof overdueReason>[0], d: Duration.DurationInput) =>
      Option.getOrNull(overdueReason(s, at(d), config))
    expect(reason(session(), Duration.hours(4).pipe(Duration.subtract(Duration.millis(1))))).toBeNull()
    expect(reason(session(), Duration.hours(4))).toBe("max_lifetime")
    const empty = session({ emptySince: DateTime.addDuration(t0, Duration.minutes(10)) })
    expect(reason(empty, Duration.millis(Duration.toMillis(Duration.minutes(12)) - 1))).toBeNull()
    expect(reason(empty, Duration.minutes(12))).toBe("empty")
    expect(reason(session({ status: "waiting" }), Duration.minutes(15))).toBe("idle")
    expect(reason(session({ status: "active" }), Duration.minutes(15))).toBeNull()
    expect(reason({ ...empty, status: "waiting" }, Duration.hours(5))).toBe("max_lifetime")
  })
})
