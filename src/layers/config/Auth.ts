/** Authentication variables: the JWT signing secret and issuer, token lifetimes, password hashing cost. */
import { Config, Either, Redacted } from "effect"
import { duration, integerIn, invalid } from "./Variables.ts"

export const jwtSecret = Config.option(
  Config.string("JWT_SECRET").pipe(
    Config.mapOrFail((raw) =>
      raw.length >= 32
        ? Either.right(Redacted.make(raw))
        : Either.left(invalid("expected at least 32 characters (e.g. `openssl rand -base64 48`)"))
    )
  )
)
export const jwtIssuer = Config.string("JWT_ISSUER").pipe(Config.withDefault("lectern"))
export const accessTokenTtl = duration("ACCESS_TOKEN_TTL", "15 minutes")
export const refreshTokenTtl = duration("REFRESH_TOKEN_TTL", "30 days")
/** scrypt cost as log2(N). */
export const passwordHashCost = integerIn("PASSWORD_HASH_COST", 10, 20, 15)
