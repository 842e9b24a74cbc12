/**
 * Seeding for tests: accounts of every role (through the `Users` service),
 * signed in over HTTP (so tokens are real), tutor–student links and lessons
 * (through their services), and `lessonCast` — one lesson with every kind of
 * caller around it: admin, its tutor, another tutor, its student, another
 * student. Emails are unique per call, so seeds never collide within a stack.
 */
import { DateTime, Duration, Effect, Schema } from "effect"
import { randomBytes } from "node:crypto"
import type { UserId } from "../../src/schemas/Ids.ts"
import type { Lesson } from "../../src/schemas/Lessons.ts"
import { CreateLessonRequest } from "../../src/schemas/Lessons.ts"
import type { Role, User } from "../../src/schemas/Users.ts"
import { Lessons } from "../../src/services/Lessons.ts"
import { Relations } from "../../src/services/Relations.ts"
import { Users } from "../../src/services/Users.ts"
import { call } from "./Http.ts"

/** The password of every seeded account. */
export const seedPassword = "correct horse battery"

/** A seeded account and an access token for it. */
export interface SignedIn {
  readonly user: User
  readonly token: string
}

const suffix = () => randomBytes(5).toString("hex")

/** Creates an account of `role` (unique email `<role>-<random>@<domain>`). */
export const createUser = (role: Role, options: { readonly displayName?: string; readonly domain?: string } = {}) =>
  Effect.flatMap(Users, (users) =>
    users.create({
      email: `${role}-${suffix()}@${options.domain ?? "example.com"}`,
      password: seedPassword,
      role,
      displayName: options.displayName
    })).pipe(Effect.orDie)

/** Logs `email` in over HTTP (needs the server stack) and returns the access token. */
export const login = (email: string) =>
  Effect.gen(function*() {
    const response = yield* call("POST", "/api/v1/auth/login", { body: { email, password: seedPassword } })
    const body = response.json
    if (response.status !== 200 || typeof body !== "object" || body === null || !("accessToken" in body)) {
      return yield* Effect.dieMessage(`login of ${email} failed: ${response.status} ${response.text}`)
    }
    return String(body.accessToken)
  })

/** Creates an account of `role` and signs it in over HTTP. */
export const signedIn = (role: Role, options: { readonly displayName?: string; readonly domain?: string } = {}) =>
  Effect.gen(function*() {
    const user = yield* createUser(role, options)
    return { user, token: yield* login(user.email) } satisfies SignedIn
  })

/** Makes `student` an active student of `tutor`. */
export const link = (tutor: UserId, student: UserId) =>
  Effect.flatMap(Relations, (relations) => relations.create({ id: tutor, role: "tutor" }, { studentId: student })).pipe(
    Effect.orDie
  )

/**
 * Schedules a lesson of `tutor` (as that tutor) with `students`: at `startsAt`,
 * else `startsIn` from now (default an hour), lasting `length` (default an hour).
 */
export const scheduleLesson = (
  tutor: UserId,
  students: ReadonlyArray<UserId>,
  options: {
    readonly title?: string
    readonly startsAt?: DateTime.Utc
    readonly startsIn?: Duration.DurationInput
    readonly length?: Duration.DurationInput
  } = {}
) =>
  Effect.gen(function*() {
    const lessons = yield* Lessons
    const startsAt = options.startsAt ?? DateTime.addDuration(yield* DateTime.now, options.startsIn ?? Duration.hours(1))
    const request = yield* Schema.decode(CreateLessonRequest)({
      title: options.title ?? "Seeded lesson",
      studentIds: [...students],
      startsAt: DateTime.formatIso(startsAt),
      endsAt: DateTime.formatIso(DateTime.addDuration(startsAt, options.length ?? Duration.hours(1)))
    })
    return yield* lessons.create({ id: tutor, role: "tutor" }, request)
  }).pipe(Effect.orDie)

/** Everyone a lesson's access rules distinguish, signed in, and the lesson itself. */
export interface LessonCast {
  readonly admin: SignedIn
  readonly tutor: SignedIn
  readonly otherTutor: SignedIn
  readonly student: SignedIn
  readonly otherStudent: SignedIn
  readonly lesson: Lesson
}

/**
 * A scheduled lesson of `tutor` with `student`, plus an admin, another tutor and
 * another student (linked to the other tutor, so a bug that ignored the lesson's
 * own tutor would still give them access somewhere to leak).
 */
export const lessonCast = (options: { readonly title?: string } = {}) =>
  Effect.gen(function*() {
    const [admin, tutor, otherTutor, student, otherStudent] = yield* Effect.all([
      signedIn("admin", { displayName: "Admin" }),
      signedIn("tutor", { displayName: "Tutor" }),
      signedIn("tutor", { displayName: "Other tutor" }),
      signedIn("student", { displayName: "Student" }),
      signedIn("student", { displayName: "Other student" })
    ])
    yield* link(tutor.user.id, student.user.id)
    yield* link(otherTutor.user.id, otherStudent.user.id)
    const lesson = yield* scheduleLesson(tutor.user.id, [student.user.id], options)
    return { admin, tutor, otherTutor, student, otherStudent, lesson } satisfies LessonCast
  })
