/**
 * Where state lives: Postgres or the embedded PGlite (on disk or in memory), and
 * Redis for the Bus and presence when configured.
 */
import { Config, Option, Redacted } from "effect"
import { urlWithScheme } from "./Variables.ts"

/** Where the database lives: a Postgres URL, or embedded PGlite on disk or in memory. */
export type DatabaseTarget =
  | { readonly _tag: "Postgres"; readonly url: Redacted.Redacted<string> }
  | {
    readonly _tag: "Embedded"
    readonly dataDir: Option.Option<string>
    /**
     * A `PGlite.dumpDataDir` file an in-memory database starts as a copy of (the test
     * suite's pre-migrated template); ignored on disk, never read from the environment.
     */
    readonly template?: string
  }

export const databaseUrl = Config.option(
  urlWithScheme("DATABASE_URL", ["postgres", "postgresql"], "postgres://user@host:5432/db")
)
export const dataDir = Config.string("LECTERN_DATA_DIR").pipe(Config.withDefault("./data"))
export const redisUrl = Config.option(
  Config.map(urlWithScheme("REDIS_URL", ["redis", "rediss"], "redis://127.0.0.1:6379"), (url) => Redacted.make(url))
)
export const redisKeyPrefix = Config.string("REDIS_KEY_PREFIX").pipe(Config.withDefault("lectern:"))

/** The data directory (`memory`: none) and the database it implies: Postgres when a URL is set. */
export const resolveDatabase = (url: Option.Option<string>, rawDataDir: string) => {
  const dir = rawDataDir.trim() === "memory" ? Option.none() : Option.some(rawDataDir.trim())
  const database: DatabaseTarget = Option.match(url, {
    onNone: () => ({ _tag: "Embedded", dataDir: dir }),
    onSome: (postgres) => ({ _tag: "Postgres", url: Redacted.make(postgres) })
  })
  return { database, dataDir: dir }
}
