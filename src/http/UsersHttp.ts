/** Handlers for account administration (admin role required on every route). */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Users } from "../services/Users.ts"
import { Api } from "./Api.ts"
import { requireRole } from "./Authentication.ts"

/** `/api/v1/users/*`. */
export const UsersHttpLive = HttpApiBuilder.group(Api, "users", (handlers) =>
  Effect.gen(function*() {
    const users = yield* Users
    const admin = requireRole("admin")
    return handlers
      .handle("create", ({ payload }) => Effect.zipRight(admin, users.create(payload)))
      .handle("list", ({ urlParams }) =>
        Effect.zipRight(
          admin,
          users.list({ role: urlParams.role, cursor: urlParams.cursor, limit: urlParams.limit ?? 50 })
        ))
      .handle("get", ({ path }) => Effect.zipRight(admin, users.findById(path.id)))
      .handle("update", ({ path, payload }) => Effect.zipRight(admin, users.update(path.id, payload)))
  }))
