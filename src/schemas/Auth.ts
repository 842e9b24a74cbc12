/**
 * Authentication on the wire: login, the token pair, refresh and logout bodies,
 * and the claims Lectern puts in its access tokens.
 */
import { Schema } from "effect"
import { RequestFields } from "./Request.ts"
import { UserId } from "./Ids.ts"
import { Email, Role, User } from "./Users.ts"

/** Credentials. */
export class LoginRequest extends Schema.Class<LoginRequest>("LoginRequest")(RequestFields({
  email: Email,
  password: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256))
})) {}

/** An opaque refresh token (base64url, 43 characters). */
export const RefreshToken = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)).annotations({
  identifier: "RefreshToken"
})

/** Body of refresh and logout. */
export class RefreshRequest extends Schema.Class<RefreshRequest>("RefreshRequest")(RequestFields({
  refreshToken: RefreshToken
})) {}

/** A fresh access token (JWT) and its rotating refresh token. */
export class TokenPair extends Schema.Class<TokenPair>("TokenPair")({
  tokenType: Schema.Literal("Bearer"),
  accessToken: Schema.String,
  /** Seconds until the access token expires. */
  expiresIn: Schema.Number,
  refreshToken: RefreshToken,
  refreshExpiresAt: Schema.DateTimeUtc,
  user: User
}) {}

/** The caller, as proven by a valid access token. */
export class CurrentUserInfo extends Schema.Class<CurrentUserInfo>("CurrentUserInfo")({
  id: UserId,
  role: Role,
  /** The refresh-token family (login session) the token was issued for. */
  sessionId: Schema.String
}) {}
