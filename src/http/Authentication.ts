/**
 * Bearer authentication for HttpApi groups: verifies the access token and
 * provides `CurrentUser` to handlers. Missing, invalid and expired tokens fail
 * with distinct codes; role checks are `requireRole` in the handlers.
 */
import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Context, Effect, Layer, Redacted, Schema } from "effect"
import { CurrentUserInfo } from "../schemas/Auth.ts"
import { AuthenticationRequired, Forbidden, TokenExpired, TokenInvalid } from "../schemas/Errors.ts"
import type { Role } from "../schemas/Users.ts"
import { Tokens } from "../services/Tokens.ts"
import { httpError } from "./HttpErrors.ts"
import { noteRequest } from "./RequestContext.ts"

/** The authenticated caller of the current request. */
export class CurrentUser extends Context.Tag("lectern/CurrentUser")<CurrentUser, CurrentUserInfo>() {}

/** Requires `Authorization: Bearer <access token>`. */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("lectern/Authentication", {
  failure: Schema.Union(
    httpError(AuthenticationRequired, "AUTHENTICATION_REQUIRED"),
    httpError(TokenInvalid, "TOKEN_INVALID"),
    httpError(TokenExpired, "TOKEN_EXPIRED")
  ),
  provides: CurrentUser,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/** Verifies bearer tokens with `Tokens`. */
export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.gen(function*() {
    const tokens = yield* Tokens
    return {
      bearer: (token) => {
        const raw = Redacted.value(token).trim()
        return raw.length === 0
          ? Effect.fail(new AuthenticationRequired({}))
          : tokens.verify(raw).pipe(
            Effect.tap((user) =>
              Effect.zipRight(
                noteRequest({ userId: user.id }),
                Effect.annotateCurrentSpan({ "user.id": user.id, "user.role": user.role })
              )
            )
          )
      }
    }
  })
)

/** Fails with `Forbidden` unless the caller has one of `roles`. */
export const requireRole = (...roles: ReadonlyArray<Role>) =>
  Effect.flatMap(CurrentUser, (user) =>
    roles.includes(user.role)
      ? Effect.succeed(user)
      : Effect.fail(new Forbidden({ detail: `This action requires the ${roles.join(" or ")} role` })))
