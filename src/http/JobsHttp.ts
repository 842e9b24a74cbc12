/** Handlers for job administration (admin role required on every route). */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { JobAdmin } from "../services/JobAdmin.ts"
import { Api } from "./Api.ts"
import { requireRole } from "./Authentication.ts"

/** `/api/v1/jobs/*`. */
export const JobsHttpLive = HttpApiBuilder.group(Api, "jobs", (handlers) =>
  Effect.gen(function*() {
    const admin = yield* JobAdmin
    const adminOnly = requireRole("admin")
    return handlers
      .handle("stats", () => Effect.zipRight(adminOnly, admin.stats))
      .handle("list", ({ urlParams }) =>
        Effect.zipRight(
          adminOnly,
          admin.list({
            state: urlParams.state,
            queue: urlParams.queue,
            name: urlParams.name,
            cursor: urlParams.cursor,
            limit: urlParams.limit ?? 50
          })
        ))
      .handle("get", ({ path }) => Effect.zipRight(adminOnly, admin.get(path.id)))
      .handle("retry", ({ path }) => Effect.zipRight(adminOnly, admin.retry(path.id)))
      .handle("cancel", ({ path }) => Effect.zipRight(adminOnly, admin.cancel(path.id)))
  }))
