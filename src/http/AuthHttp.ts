/** Handlers for login, refresh, logout and `/me`. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { AccountDisabled } from "../schemas/Errors.ts"
import { Auth } from "../services/Auth.ts"
import { Users } from "../services/Users.ts"
import { Api } from "./Api.ts"
import { CurrentUser } from "./Authentication.ts"

/** `/api/v1/auth/*`. */
export const AuthHttpLive = HttpApiBuilder.group(Api, "auth", (handlers) =>
  Effect.gen(function*() {
    const auth = yield* Auth
    return handlers
      .handle("login", ({ payload }) => auth.login(payload.email, payload.password))
      .handle("refresh", ({ payload }) => auth.refresh(payload.refreshToken))
      .handle("logout", ({ payload }) => auth.logout(payload.refreshToken))
  }))

/** `/api/v1/me`. */
export const MeHttpLive = HttpApiBuilder.group(Api, "me", (handlers) =>
  Effect.gen(function*() {
    const users = yield* Users
    return handlers.handle("me", () =>
      Effect.gen(function*() {
        const caller = yield* CurrentUser
        const user = yield* users.findById(caller.id).pipe(
          // The token outlived its account: treat it as no longer valid for this user.
          Effect.catchTag("UserNotFound", () => new AccountDisabled({ detail: "This account no longer exists" }))
        )
        if (user.disabled) return yield* new AccountDisabled({})
        return user
      }))
  }))
