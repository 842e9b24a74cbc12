/**
 * Lesson changes through REST keep the reminder job in step: scheduling queues one
 * `lesson.reminder` job before the start, rescheduling moves it, cancelling (or a
 * final status) withdraws it — visible to operators through /api/v1/jobs.
 */
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect } from "effect"
import { call } from "../support/Http.ts"
import { lessonCast } from "../support/Seed.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"

interface JobJson {
  readonly name: string
  readonly state: string
  readonly runAt: string
  readonly payload: { readonly lessonId?: string }
}

const reminderOf = (adminToken: string, lessonId: string) =>
  Effect.map(call("GET", "/api/v1/jobs?name=lesson.reminder&limit=200", { token: adminToken }), (response) => {
    expect(response.status).toBe(200)
    const items = (response.json as { readonly items: ReadonlyArray<JobJson> }).items
    return items.filter((job) => job.payload.lessonId === lessonId)
  })

describe(`lesson reminder jobs (${backendLabel})`, () => {
  // Test stacks run no worker pool, so reminders stay pending for the test to look at.
  it.layer(serverStack(), liveStack)((it) => {
    it.effect("schedule → one pending reminder 15 min before; reschedule moves it; cancel withdraws it", () =>
      Effect.gen(function*() {
        const { admin, tutor, lesson } = yield* lessonCast()
        const [first, ...rest] = yield* reminderOf(admin.token, lesson.id)
        expect(rest).toEqual([])
        expect(first?.state).toBe("pending")
        const lead = DateTime.distance(DateTime.unsafeMake(first?.runAt ?? ""), lesson.startsAt)
        expect(Duration.toMinutes(Duration.millis(lead))).toBe(15)

        const later = DateTime.addDuration(lesson.startsAt, Duration.hours(2))
        const moved = yield* call("PATCH", `/api/v1/lessons/${lesson.id}`, {
          token: tutor.token,
          body: {
            startsAt: DateTime.formatIso(later),
            endsAt: DateTime.formatIso(DateTime.addDuration(later, Duration.hours(1)))
          }
        })
        expect(moved.status).toBe(200)
        const afterMove = (yield* reminderOf(admin.token, lesson.id)).filter((job) => job.state === "pending")
        expect(afterMove.map((job) => job.runAt)).toEqual([
          DateTime.formatIso(DateTime.subtractDuration(later, Duration.minutes(15)))
        ])

        expect((yield* call("DELETE", `/api/v1/lessons/${lesson.id}`, { token: tutor.token })).status).toBe(200)
        const afterCancel = yield* reminderOf(admin.token, lesson.id)
        expect(afterCancel.filter((job) => job.state === "pending")).toEqual([])
        expect(afterCancel.some((job) => job.state === "cancelled")).toBe(true)
      }))
  })
})
