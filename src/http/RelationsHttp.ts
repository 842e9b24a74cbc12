/** Handlers for tutor–student relations; the policy lives in `Relations`. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Relations } from "../services/Relations.ts"
import { Api } from "./Api.ts"
import { CurrentUser } from "./Authentication.ts"

/** `/api/v1/relations/*`. */
export const RelationsHttpLive = HttpApiBuilder.group(Api, "relations", (handlers) =>
  Effect.gen(function*() {
    const relations = yield* Relations
    return handlers
      .handle("create", ({ payload }) => Effect.flatMap(CurrentUser, (me) => relations.create(me, payload)))
      .handle("list", ({ urlParams }) => Effect.flatMap(CurrentUser, (me) => relations.list(me, urlParams)))
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, (me) => relations.get(me, path.id)))
      .handle("end", ({ path }) => Effect.flatMap(CurrentUser, (me) => relations.end(me, path.id)))
  }))
