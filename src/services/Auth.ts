/**
 * Login sessions: password login, refresh-token rotation with reuse detection,
 * and logout. A login starts a token *family*; each refresh marks the presented
 * token used and issues its successor in the same family. Presenting a used token
 * again means it leaked, so the whole family is revoked (OAuth 2.0 BCP §4.14).
 */
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Option, Schema } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { AppConfig } from "../layers/AppConfig.ts"
import { storeCall } from "../layers/SqlErrors.ts"
import { TokenPair } from "../schemas/Auth.ts"
import {
  AccountDisabled,
  InvalidCredentials,
  RefreshTokenInvalid,
  RefreshTokenReused
} from "../schemas/Errors.ts"
import { UserId } from "../schemas/Ids.ts"
import type { User } from "../schemas/Users.ts"
import { Passwords } from "./Passwords.ts"
import { Tokens } from "./Tokens.ts"
import { Users } from "./Users.ts"

const hashToken = (token: string) => createHash("sha256").update(token).digest("base64url")

const RefreshRow = Schema.Struct({
  id: Schema.String,
  familyId: Schema.String,
  userId: UserId,
  expiresAt: Schema.DateTimeUtcFromDate,
  usedAt: Schema.NullOr(Schema.DateFromSelf),
  revokedAt: Schema.NullOr(Schema.DateFromSelf)
})

/** Sessions and tokens. */
export class Auth extends Effect.Service<Auth>()("lectern/Auth", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const users = yield* Users
    const passwords = yield* Passwords
    const tokens = yield* Tokens
    const { refreshTokenTtl } = yield* AppConfig

    /** Stores a new refresh token in `familyId` and signs the access token that goes with it. */
    const issuePair = (user: User, familyId: string) =>
      Effect.gen(function*() {
        const refreshToken = randomBytes(32).toString("base64url")
        const refreshExpiresAt = DateTime.addDuration(yield* DateTime.now, refreshTokenTtl)
        yield* sql`INSERT INTO refresh_tokens ${
          sql.insert({
            familyId,
            userId: user.id,
            tokenHash: hashToken(refreshToken),
            expiresAt: DateTime.toDateUtc(refreshExpiresAt)
          })
        }`
        const access = yield* tokens.issue(user, familyId)
        return TokenPair.make({
          tokenType: "Bearer",
          accessToken: access.token,
          expiresIn: access.expiresIn,
          refreshToken,
          refreshExpiresAt,
          user
        })
      })

    const login = (email: string, password: string) =>
      Effect.gen(function*() {
        const found = yield* users.findCredentials(email)
        if (Option.isNone(found)) {
          yield* passwords.verify(password, passwords.decoy)
          return yield* new InvalidCredentials({})
        }
        const { user, passwordHash } = found.value
        if (!(yield* passwords.verify(password, passwordHash))) return yield* new InvalidCredentials({})
        if (user.disabled) return yield* new AccountDisabled({})
        const familyId = (yield* sql<{ readonly id: string }>`SELECT gen_random_uuid()::text AS id`)[0]?.id
        if (familyId === undefined) return yield* Effect.dieMessage("gen_random_uuid returned no row")
        const pair = yield* issuePair(user, familyId)
        yield* Effect.logInfo("login").pipe(Effect.annotateLogs({ user_id: user.id }))
        return pair
      }).pipe(storeCall, Effect.withSpan("Auth.login"))

    const findToken = (token: string) =>
      sql`SELECT id, family_id, user_id, expires_at, used_at, revoked_at
          FROM refresh_tokens WHERE token_hash = ${hashToken(token)} FOR UPDATE`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(RefreshRow))),
        Effect.map((rows) => Option.fromNullable(rows[0]))
      )

    const revokeFamily = (familyId: string) =>
      sql`UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = ${familyId} AND revoked_at IS NULL`

    const refresh = (token: string) =>
      Effect.gen(function*() {
        const found = yield* findToken(token)
        if (Option.isNone(found)) return yield* new RefreshTokenInvalid({})
        const row = found.value
        if (row.revokedAt !== null) return yield* new RefreshTokenInvalid({})
        if (row.usedAt !== null) {
          yield* revokeFamily(row.familyId)
          yield* Effect.logWarning("refresh token reuse: family revoked").pipe(
            Effect.annotateLogs({ user_id: row.userId, family_id: row.familyId })
          )
          return { _tag: "Reused" } as const
        }
        if (DateTime.lessThanOrEqualTo(row.expiresAt, yield* DateTime.now)) return yield* new RefreshTokenInvalid({})
        const user = yield* users.findById(row.userId).pipe(
          Effect.catchTag("UserNotFound", () => new RefreshTokenInvalid({}))
        )
        if (user.disabled) return yield* new AccountDisabled({})
        yield* sql`UPDATE refresh_tokens SET used_at = now() WHERE id = ${row.id}`
        return { _tag: "Rotated", pair: yield* issuePair(user, row.familyId) } as const
      }).pipe(
        // The revocation must commit even though the caller gets an error, so the
        // reuse verdict leaves the transaction as a value and fails only after it.
        sql.withTransaction,
        Effect.flatMap((outcome) =>
          outcome._tag === "Reused" ? Effect.fail(new RefreshTokenReused({})) : Effect.succeed(outcome.pair)
        ),
        storeCall,
        Effect.withSpan("Auth.refresh")
      )

    const logout = (token: string) =>
      Effect.gen(function*() {
        const found = yield* findToken(token)
        if (Option.isNone(found)) return yield* new RefreshTokenInvalid({})
        yield* revokeFamily(found.value.familyId)
      }).pipe(sql.withTransaction, storeCall, Effect.withSpan("Auth.logout"))

    return { login, refresh, logout } as const
  }),
  dependencies: [Users.Default, Passwords.Default, Tokens.Default]
}) {}
