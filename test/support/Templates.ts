/**
 * Pre-migrated database templates, made once per run by `globalSetup` so each test
 * stack starts from a copy instead of running every migration again: a dumped
 * PGlite data directory (a fresh PGlite spends seconds in initdb), and with
 * `DATABASE_URL` a template database for `CREATE DATABASE … TEMPLATE`.
 */
import { PGlite } from "@electric-sql/pglite"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Database from "../../src/layers/Database.ts"
import * as Migrations from "../../src/layers/Migrations.ts"

/** What `globalSetup` hands the test files (through `inject`). */
export interface TemplateNames {
  /** Path of the migrated PGlite dump. */
  readonly pgliteTemplate: string
  /** Name of the migrated Postgres template database ("" without `DATABASE_URL`). */
  readonly postgresTemplate: string
}

declare module "vitest" {
  export interface ProvidedContext extends TemplateNames {}
}

const migrate = Effect.asVoid(Migrations.run)

/** Migrates an in-memory PGlite and dumps it to a file under the temp dir; returns the path and a cleanup. */
export const makePgliteTemplate = Effect.gen(function*() {
  const db = yield* Effect.acquireRelease(Effect.promise(() => PGlite.create()), (db) => Effect.promise(() => db.close()))
  yield* Effect.scoped(Effect.provide(migrate, Database.layerPGlite(db)))
  const dump = yield* Effect.promise(() => db.dumpDataDir("none"))
  const path = join(tmpdir(), `lectern-template-${process.pid}-${randomBytes(4).toString("hex")}.tar`)
  const bytes = new Uint8Array(yield* Effect.promise(() => dump.arrayBuffer()))
  yield* Effect.sync(() => writeFileSync(path, bytes))
  return path
}).pipe(Effect.scoped)

/** Removes the PGlite dump. */
export const removePgliteTemplate = (path: string) => rmSync(path, { force: true })

const admin = (adminUrl: string) =>
  Effect.map(Layer.build(PgClient.layer({ url: Redacted.make(adminUrl), maxConnections: 1 })), (ctx) =>
    Context.get(ctx, SqlClient.SqlClient))

/** Creates and migrates a template database next to `adminUrl`'s; returns its name. */
export const makePostgresTemplate = (adminUrl: string) =>
  Effect.gen(function*() {
    const name = `lectern_tpl_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`
    const sql = yield* admin(adminUrl)
    yield* sql.unsafe(`CREATE DATABASE ${name}`)
    const url = new URL(adminUrl)
    url.pathname = `/${name}`
    // The pool closes with this scope: `CREATE DATABASE … TEMPLATE` refuses a template with sessions.
    yield* Effect.scoped(Effect.provide(migrate, Database.layerPostgres(Redacted.make(url.toString()))))
    return name
  }).pipe(Effect.scoped)

/** Drops the template database. */
export const dropPostgresTemplate = (adminUrl: string, name: string) =>
  Effect.flatMap(admin(adminUrl), (sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).pipe(
    Effect.scoped
  )
