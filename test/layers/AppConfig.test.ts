import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Option, Redacted } from "effect"
import { appConfig, describeConfigError } from "../../src/layers/AppConfig.ts"

const load = (env: Record<string, string>) =>
  Effect.withConfigProvider(appConfig, ConfigProvider.fromMap(new Map(Object.entries(env)))).pipe(
    Effect.mapError(describeConfigError),
    Effect.either
  )

describe("AppConfig", () => {
  it.effect("no environment gives the embedded defaults", () =>
    Effect.gen(function*() {
      const config = yield* Effect.flatten(load({}))
      expect(config.port).toBe(8080)
      expect(config.database).toEqual({ _tag: "Embedded", dataDir: Option.some("./data") })
      expect(Option.isNone(config.redisUrl)).toBe(true)
      expect(Option.isNone(config.jwtSecret)).toBe(true)
      expect(Option.isNone(config.otlpEndpoint)).toBe(true)
      expect(config.hsts).toBe(false)
      expect(Duration.toMinutes(config.accessTokenTtl)).toBe(15)
    }))

  it.effect("LECTERN_DATA_DIR=memory keeps nothing on disk; DATABASE_URL switches to Postgres", () =>
    Effect.gen(function*() {
      const memory = yield* Effect.flatten(load({ LECTERN_DATA_DIR: "memory" }))
      expect(memory.database).toEqual({ _tag: "Embedded", dataDir: Option.none() })
      const pg = yield* Effect.flatten(load({ DATABASE_URL: "postgres://u@db:5432/x", REDIS_URL: "redis://r:6379" }))
      expect(pg.database._tag).toBe("Postgres")
      expect(pg.database._tag === "Postgres" && Redacted.value(pg.database.url)).toBe("postgres://u@db:5432/x")
      expect(Option.map(pg.redisUrl, Redacted.value)).toEqual(Option.some("redis://r:6379"))
    }))

  it.effect.each([
    [{ PORT: "abc" }, /^PORT: expected a whole number from 0 to 65535, got "abc"$/],
    [{ PORT: "70000" }, /^PORT: /],
    [{ DATABASE_URL: "mysql://x/y" }, /^DATABASE_URL: expected a postgres or postgresql URL/],
    [{ REDIS_URL: "localhost" }, /^REDIS_URL: expected a redis or rediss URL/],
    [{ JWT_SECRET: "short" }, /^JWT_SECRET: expected at least 32 characters/],
    [{ HSTS_ENABLED: "maybe" }, /^HSTS_ENABLED: expected true or false/],
    [{ LOG_LEVEL: "loud" }, /^LOG_LEVEL: expected one of/],
    [{ LOG_FORMAT: "xml" }, /^LOG_FORMAT: expected json or pretty/],
    [{ CORS_ORIGINS: "https://ok.example, not a url" }, /^CORS_ORIGINS: expected comma-separated origins/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }, /^OTEL_EXPORTER_OTLP_ENDPOINT: expected a http or https URL/],
    [{ ACCESS_TOKEN_TTL: "soon" }, /^ACCESS_TOKEN_TTL: expected a duration/]
  ] as const)("a bad %j fails with one line naming the variable", ([env, message]) =>
    Effect.gen(function*() {
      const result = yield* load(env)
      expect(result._tag).toBe("Left")
      if (result._tag === "Left") {
        expect(result.left).toMatch(message)
        expect(result.left).not.toContain("\n")
      }
    }))

  it.effect("several bad variables are all named", () =>
    Effect.gen(function*() {
      const result = yield* load({ PORT: "x", LOG_FORMAT: "xml" })
      expect(result._tag === "Left" && result.left).toMatch(/PORT: .*; LOG_FORMAT: /)
    }))
})

describe(".env.example", () => {
  it("documents every variable AppConfig reads", async () => {
    const { readdirSync, readFileSync } = await import("node:fs")
    const sections = new URL("../../src/layers/config/", import.meta.url)
    const source = [
      readFileSync(new URL("../../src/layers/AppConfig.ts", import.meta.url), "utf8"),
      ...readdirSync(sections).filter((file) => file.endsWith(".ts")).map((file) => readFileSync(new URL(file, sections), "utf8"))
    ].join("\n")
    const example = readFileSync(new URL("../../.env.example", import.meta.url), "utf8")
    const read = [...source.matchAll(/\(\s*"([A-Z][A-Z0-9_]+)"/g)].map((m) => m[1])
    expect(read.length).toBeGreaterThan(50)
    for (const name of read) expect(example, name).toMatch(new RegExp(`^#? ?${name}=`, "m"))
  })
})
