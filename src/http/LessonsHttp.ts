/** Handlers for lessons; the policy lives in `Lessons` and `LessonAccess`. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Lessons } from "../services/Lessons.ts"
import { Api } from "./Api.ts"
import { CurrentUser } from "./Authentication.ts"

/** `/api/v1/lessons/*`. */
export const LessonsHttpLive = HttpApiBuilder.group(Api, "lessons", (handlers) =>
  Effect.gen(function*() {
    const lessons = yield* Lessons
    return handlers
      .handle("create", ({ payload }) => Effect.flatMap(CurrentUser, (me) => lessons.create(me, payload)))
      .handle("list", ({ urlParams }) => Effect.flatMap(CurrentUser, (me) => lessons.list(me, urlParams)))
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, (me) => lessons.get(me, path.id)))
      .handle("update", ({ path, payload }) => Effect.flatMap(CurrentUser, (me) => lessons.update(me, path.id, payload)))
      .handle("cancel", ({ path }) => Effect.flatMap(CurrentUser, (me) => lessons.cancel(me, path.id)))
  }))
