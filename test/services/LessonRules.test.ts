/** The pure lesson rules: the whole status machine, time windows at their edges, frozen details. */
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Schema } from "effect"
import { UserId } from "../../src/schemas/Ids.ts"
import { LessonStatus } from "../../src/schemas/Lessons.ts"
import { canTransition, checkWindow, duplicateStudents, frozenDetails } from "../../src/services/LessonRules.ts"

const now = DateTime.unsafeMake("2026-06-01T12:00:00Z")
const plus = (d: Duration.DurationInput) => DateTime.addDuration(now, d)
const minus = (d: Duration.DurationInput) => DateTime.subtractDuration(now, d)
const noChanges = { title: false, description: false, studentIds: false, startsAt: false, endsAt: false }

describe("lesson rules", () => {
  it("the status machine, every pair", () => {
    const allowed = new Set([
      "scheduled→live",
      "scheduled→completed",
      "scheduled→cancelled",
      "scheduled→no_show",
      "live→completed",
      "live→no_show"
    ])
    for (const from of LessonStatus.literals) {
      for (const to of LessonStatus.literals) {
        expect(canTransition(from, to), `${from}→${to}`).toBe(from === to || allowed.has(`${from}→${to}`))
      }
    }
  })

  it("windows: end after start, at most 8 hours, start not more than 5 minutes in the past", () => {
    const ok = { now, startChanged: true, blame: "endsAt" } as const
    expect(checkWindow({ startsAt: plus("1 hour"), endsAt: plus("2 hours") }, ok)).toEqual({})
    expect(checkWindow({ startsAt: plus("1 hour"), endsAt: plus("9 hours") }, ok)).toEqual({})
    expect(checkWindow({ startsAt: plus("1 hour"), endsAt: plus(Duration.sum("9 hours", "1 millis")) }, ok))
      .toEqual({ endsAt: "a lesson lasts at most 8h" })
    expect(checkWindow({ startsAt: plus("1 hour"), endsAt: plus("1 hour") }, ok)).toEqual({ endsAt: "must be after startsAt" })
    expect(checkWindow({ startsAt: minus("5 minutes"), endsAt: plus("1 hour") }, ok)).toEqual({})
    expect(checkWindow({ startsAt: minus("301 seconds"), endsAt: plus("1 hour") }, ok))
      .toEqual({ startsAt: "must not be in the past" })
    // A start that is not being changed may lie in the past (a live lesson being extended).
    expect(checkWindow({ startsAt: minus("2 hours"), endsAt: plus("1 hour") }, { ...ok, startChanged: false })).toEqual({})
    // Moving only the start past the end blames the start, and problems on one field are joined.
    expect(checkWindow({ startsAt: minus("1 hour"), endsAt: minus("2 hours") }, { ...ok, blame: "startsAt" }))
      .toEqual({ startsAt: "must not be in the past; must be before endsAt" })
  })

  it("details frozen by the status", () => {
    expect(frozenDetails("scheduled", { ...noChanges, startsAt: true, title: true })).toEqual({})
    expect(frozenDetails("live", { ...noChanges, endsAt: true, studentIds: true })).toEqual({})
    expect(frozenDetails("live", { ...noChanges, startsAt: true })).toEqual({ startsAt: "the lesson has already started" })
    expect(frozenDetails("cancelled", { ...noChanges, title: true, endsAt: true })).toEqual({
      title: "the lesson is cancelled",
      endsAt: "the lesson is cancelled"
    })
    expect(frozenDetails("completed", noChanges)).toEqual({})
  })

  it("duplicate students are named by position", () => {
    const [a, b] = ["00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"].map((id) =>
      Schema.decodeSync(UserId)(id)
    )
    if (a === undefined || b === undefined) throw new Error("ids")
    expect(duplicateStudents([a, b, a, a])).toEqual({ "studentIds.2": "listed twice", "studentIds.3": "listed twice" })
    expect(duplicateStudents([a, b])).toEqual({})
  })
})
