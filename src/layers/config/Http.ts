/** The HTTP server's variables: where it listens, CORS, HSTS, body and time limits. */
import { Config, Either } from "effect"
import { bool, duration, integerIn, invalid } from "./Variables.ts"

export const host = Config.string("HOST").pipe(Config.withDefault("0.0.0.0"))
export const port = integerIn("PORT", 0, 65535, 8080)

/** A comma-separated list of origins (`https://app.example.com`) or `*`; empty when unset. */
export const origins = (name: string) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const list = raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
      const bad = list.find((o) => o !== "*" && !(URL.canParse(o) && new URL(o).origin === o))
      return bad === undefined
        ? Either.right(list)
        : Either.left(invalid(`expected comma-separated origins such as https://app.example.com, got "${bad}"`))
    }),
    Config.withDefault<ReadonlyArray<string>>([])
  )

export const corsOrigins = origins("CORS_ORIGINS")
export const hsts = bool("HSTS_ENABLED", false)

export const bodyLimitBytes = integerIn("BODY_LIMIT_BYTES", 1024, 64 * 1024 * 1024, 1024 * 1024)
export const requestTimeout = duration("REQUEST_TIMEOUT", "30 seconds")
export const shutdownTimeout = duration("SHUTDOWN_TIMEOUT", "8 seconds")
