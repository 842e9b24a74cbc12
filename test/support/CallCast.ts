/**
 * Seeding for call tests without HTTP: a lesson of a tutor with `students`
 * students, an admin, and a student of another tutor (who must not get in).
 */
import { Duration, Effect, Option } from "effect"
import type { CallsConfig } from "../../src/layers/AppConfig.ts"
import type { User } from "../../src/schemas/Users.ts"
import type { Actor } from "../../src/services/Calls.ts"
import { createUser, link, scheduleLesson, signedIn } from "./Seed.ts"

/** Everyone a call distinguishes, and the lesson. */
export interface CallCast {
  readonly tutor: Actor
  readonly students: ReadonlyArray<Actor>
  readonly admin: Actor
  readonly outsider: Actor
  readonly lesson: { readonly id: import("../../src/schemas/Ids.ts").LessonId }
}

const actor = (user: User): Actor => ({ id: user.id, role: user.role })

/** A lesson with `students` students (1–9), plus an admin and an outsider student. */
export const callCast = (students = 2) =>
  Effect.gen(function*() {
    const tutor = yield* createUser("tutor", { displayName: "Tutor" })
    const pupils = yield* Effect.forEach(
      Array.from({ length: students }, (_, i) => i),
      (i) => createUser("student", { displayName: `Student ${i + 1}` })
    )
    yield* Effect.forEach(pupils, (s) => link(tutor.id, s.id), { discard: true })
    const admin = yield* createUser("admin", { displayName: "Admin" })
    const otherTutor = yield* createUser("tutor")
    const outsider = yield* createUser("student", { displayName: "Outsider" })
    yield* link(otherTutor.id, outsider.id)
    yield* scheduleLesson(otherTutor.id, [outsider.id])
    const lesson = yield* scheduleLesson(tutor.id, pupils.map((p) => p.id))
    return {
      tutor: actor(tutor),
      students: pupils.map(actor),
      admin: actor(admin),
      outsider: actor(outsider),
      lesson: { id: lesson.id }
    } satisfies CallCast
  })

/** The same cast signed in over HTTP (needs the server stack), for WebSocket tests. */
export const signedInCallCast = (students = 2) =>
  Effect.gen(function*() {
    const tutor = yield* signedIn("tutor", { displayName: "Tutor" })
    const pupils = yield* Effect.forEach(
      Array.from({ length: students }, (_, i) => i),
      (i) => signedIn("student", { displayName: `Student ${i + 1}` })
    )
    yield* Effect.forEach(pupils, (s) => link(tutor.user.id, s.user.id), { discard: true })
    const admin = yield* signedIn("admin", { displayName: "Admin" })
    const outsider = yield* signedIn("student", { displayName: "Outsider" })
    const lesson = yield* scheduleLesson(tutor.user.id, pupils.map((p) => p.user.id))
    return { tutor, students: pupils, admin, outsider, lesson }
  })

/** Call settings at their production defaults, with `overrides` (for test stacks). */
export const callsConfig = (overrides: Partial<CallsConfig> = {}): CallsConfig => ({
  iceUrls: [],
  turnSecret: Option.none(),
  turnTtl: Duration.hours(6),
  maxLifetime: Duration.hours(4),
  emptyTimeout: Duration.minutes(2),
  idleTimeout: Duration.minutes(15),
  maxParticipants: 10,
  logRetention: Duration.days(30),
  ...overrides
})
