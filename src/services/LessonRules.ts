/**
 * The lesson rules that need no database: time window checks, the status
 * machine, and which details a lesson's status still lets change. Pure
 * functions returning field → problem maps, so `Lessons` can report every
 * problem of a request at once before touching anything.
 */
import { DateTime, Duration } from "effect"
import type { UserId } from "../schemas/Ids.ts"
import { isClosed, lessonTransitions, type LessonStatus, maxLessonDuration, startGrace } from "../schemas/Lessons.ts"

/** Field → what is wrong with it. */
export type FieldProblems = Record<string, string>

const add = (problems: FieldProblems, field: string, problem: string) => {
  problems[field] = problems[field] === undefined ? problem : `${problems[field]}; ${problem}`
}

/**
 * Checks a lesson's time window: it ends after it starts, lasts at most
 * {@link maxLessonDuration}, and (when the start is being set) does not start
 * in the past beyond {@link startGrace}.
 */
export const checkWindow = (
  window: { readonly startsAt: DateTime.Utc; readonly endsAt: DateTime.Utc },
  options: {
    readonly now: DateTime.Utc
    readonly startChanged: boolean
    /** The field blamed for a bad length: `endsAt` unless only the start is being moved. */
    readonly blame: "endsAt" | "startsAt"
  }
): FieldProblems => {
  const problems: FieldProblems = {}
  if (options.startChanged && DateTime.lessThan(window.startsAt, DateTime.subtractDuration(options.now, startGrace))) {
    add(problems, "startsAt", "must not be in the past")
  }
  if (!DateTime.greaterThan(window.endsAt, window.startsAt)) {
    add(problems, options.blame, options.blame === "endsAt" ? "must be after startsAt" : "must be before endsAt")
  } else if (Duration.greaterThan(DateTime.distanceDuration(window.startsAt, window.endsAt), maxLessonDuration)) {
    add(problems, options.blame, `a lesson lasts at most ${Duration.format(maxLessonDuration)}`)
  }
  return problems
}

/** Positions of students listed more than once, as `studentIds.<i>` problems. */
export const duplicateStudents = (studentIds: ReadonlyArray<UserId>): FieldProblems => {
  const problems: FieldProblems = {}
  const seen = new Set<UserId>()
  studentIds.forEach((id, i) => {
    if (seen.has(id)) problems[`studentIds.${i}`] = "listed twice"
    seen.add(id)
  })
  return problems
}

/** Whether `from` may become `to` (staying put is always allowed). */
export const canTransition = (from: LessonStatus, to: LessonStatus): boolean =>
  from === to || lessonTransitions[from].includes(to)

/** The details a PATCH would change, compared with the current lesson. */
export interface DetailChanges {
  readonly title: boolean
  readonly description: boolean
  readonly studentIds: boolean
  readonly startsAt: boolean
  readonly endsAt: boolean
}

/**
 * Which requested detail changes the current status forbids: nothing but the
 * status changes once a lesson is completed, cancelled or no_show, and a live
 * lesson can no longer be moved to another start.
 */
export const frozenDetails = (status: LessonStatus, changes: DetailChanges): FieldProblems => {
  const changed = (Object.keys(changes) as Array<keyof DetailChanges>).filter((key) => changes[key])
  if (isClosed(status)) return Object.fromEntries(changed.map((key) => [key, `the lesson is ${status}`]))
  if (status === "live" && changes.startsAt) return { startsAt: "the lesson has already started" }
  return {}
}
