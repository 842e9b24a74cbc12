/**
 * Access tokens: short-lived HS256 JWTs signed with `jose`. Owns issuing and
 * verifying them (time from `Clock`, so tests can expire tokens with TestClock);
 * refresh tokens are opaque and live in `Auth`.
 */
import { Clock, Duration, Effect, Schema } from "effect"
import { errors, jwtVerify, SignJWT } from "jose"
import { AppConfig } from "../layers/AppConfig.ts"
import { JwtSecret } from "../layers/JwtSecret.ts"
import { CurrentUserInfo } from "../schemas/Auth.ts"
import { TokenExpired, TokenInvalid } from "../schemas/Errors.ts"
import type { UserId } from "../schemas/Ids.ts"
import type { Role } from "../schemas/Users.ts"

const audience = "lectern"

const Claims = Schema.Struct({
  sub: Schema.String,
  role: Schema.String,
  sid: Schema.String
})

/** Issues and verifies access tokens. */
export class Tokens extends Effect.Service<Tokens>()("lectern/Tokens", {
  effect: Effect.gen(function*() {
    const { key } = yield* JwtSecret
    const { accessTokenTtl, jwtIssuer } = yield* AppConfig
    const ttlSeconds = Math.max(1, Math.floor(Duration.toSeconds(accessTokenTtl)))

    const issue = (user: { readonly id: UserId; readonly role: Role }, sessionId: string) =>
      Effect.gen(function*() {
        const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
        const token = yield* Effect.promise(() =>
          new SignJWT({ role: user.role, sid: sessionId })
            .setProtectedHeader({ alg: "HS256", typ: "JWT" })
            .setSubject(user.id)
            .setIssuer(jwtIssuer)
            .setAudience(audience)
            .setIssuedAt(now)
            .setExpirationTime(now + ttlSeconds)
            .sign(key)
        )
        return { token, expiresIn: ttlSeconds }
      })

    const verify = (token: string): Effect.Effect<CurrentUserInfo, TokenInvalid | TokenExpired> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const { payload } = yield* Effect.tryPromise({
          try: () =>
            jwtVerify(token, key, {
              issuer: jwtIssuer,
              audience,
              algorithms: ["HS256"],
              currentDate: new Date(now)
            }),
          catch: (cause) =>
            cause instanceof errors.JWTExpired ? new TokenExpired({}) : new TokenInvalid({})
        })
        const claims = yield* Schema.decodeUnknown(Claims)(payload).pipe(Effect.mapError(() => new TokenInvalid({})))
        return yield* Schema.decodeUnknown(CurrentUserInfo)({ id: claims.sub, role: claims.role, sessionId: claims.sid })
          .pipe(Effect.mapError(() => new TokenInvalid({})))
      })

    return { issue, verify } as const
  })
}) {}
