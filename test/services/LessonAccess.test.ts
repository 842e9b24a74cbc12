/**
 * The lesson access policy as the realtime and signaling code will call it:
 * who is a member and as what, and who may manage — for every kind of caller.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { LessonId } from "../../src/schemas/Ids.ts"
import { LessonAccess } from "../../src/services/LessonAccess.ts"
import { Lessons } from "../../src/services/Lessons.ts"
import { createUser, link, scheduleLesson } from "../support/Seed.ts"
import { backendLabel, coreStack, liveStack } from "../support/TestStack.ts"

const outcome = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.either(effect), Either.match({ onLeft: (e) => e._tag, onRight: () => "ok" }))

describe(`LessonAccess (${backendLabel})`, () => {
  it.layer(coreStack(), liveStack)((it) => {
    it.effect("membership says how each caller relates to the lesson; strangers and missing ids are LessonNotFound", () =>
      Effect.gen(function*() {
        const access = yield* LessonAccess
        const [admin, tutor, otherTutor, student, second, otherStudent] = yield* Effect.all([
          createUser("admin"),
          createUser("tutor"),
          createUser("tutor"),
          createUser("student"),
          createUser("student"),
          createUser("student")
        ])
        yield* link(tutor.id, student.id)
        yield* link(tutor.id, second.id)
        yield* link(otherTutor.id, otherStudent.id)
        const lesson = yield* scheduleLesson(tutor.id, [student.id, second.id])

        const m = yield* access.membership(student, lesson.id)
        expect(m).toEqual({
          lessonId: lesson.id,
          tutorId: tutor.id,
          studentIds: [student.id, second.id].sort(),
          status: "scheduled",
          as: "student"
        })
        expect((yield* access.membership(tutor, lesson.id)).as).toBe("tutor")
        expect((yield* access.membership(admin, lesson.id)).as).toBe("admin")
        expect((yield* access.membership(second, lesson.id)).as).toBe("student")
        for (const stranger of [otherTutor, otherStudent]) {
          expect(yield* outcome(access.membership(stranger, lesson.id))).toBe("LessonNotFound")
        }
        const missing = Schema.decodeSync(LessonId)(randomUUID())
        expect(yield* outcome(access.membership(admin, missing))).toBe("LessonNotFound")

        // read: every member; manage: the tutor and admins; students are Forbidden (they know it exists).
        const matrix = [
          [admin, "ok", "ok"],
          [tutor, "ok", "ok"],
          [student, "ok", "Forbidden"],
          [otherTutor, "LessonNotFound", "LessonNotFound"],
          [otherStudent, "LessonNotFound", "LessonNotFound"]
        ] as const
        for (const [user, read, manage] of matrix) {
          expect(yield* outcome(access.authorize(user, lesson.id, "read")), `${user.role} read`).toBe(read)
          expect(yield* outcome(access.authorize(user, lesson.id, "manage")), `${user.role} manage`).toBe(manage)
        }

        // The status it reports follows the lesson.
        yield* Effect.flatMap(Lessons, (lessons) => lessons.cancel(tutor, lesson.id))
        expect((yield* access.membership(student, lesson.id)).status).toBe("cancelled")
      }))
  })
})
