/**
 * Feature flags through the real server: admin CRUD, every route × every role,
 * bad input (nothing stored), and evaluation for users — every reason, with
 * targeting by id, role, stored attributes and email domain.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { snapshot } from "../support/DbSnapshot.ts"
import { call, errorCode, type TestResponse } from "../support/Http.ts"
import { signedIn } from "../support/Seed.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"

const outcome = (r: TestResponse) => [r.status, errorCode(r) ?? "ok"]
const fieldsOf = (r: TestResponse) => (r.json as { error: { fields: Record<string, string> } }).error.fields
const flagTables = ["feature_flags", "users"] as const
const unique = (name: string) => `${name}-${randomUUID().slice(0, 8)}`

describe(`feature flags over REST (${backendLabel})`, () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.effect("admin CRUD: create with defaults, duplicate 409, read, list, change, delete, then 404", () =>
      Effect.gen(function*() {
        const admin = yield* signedIn("admin")
        const token = admin.token
        const name = unique("board.v2")
        const created = yield* call("POST", "/api/v1/feature-flags", { token, body: { name, description: "Board" } })
        expect(created.status).toBe(201)
        expect(created.json).toMatchObject({
          name,
          description: "Board",
          enabled: false,
          rolloutPercent: 0,
          rules: { userIds: [], roles: [], attributes: {} },
          owner: admin.user.email,
          expiresAt: null
        })
        expect(outcome(yield* call("POST", "/api/v1/feature-flags", { token, body: { name } })))
          .toEqual([409, "FLAG_EXISTS"])
        expect((yield* call("GET", `/api/v1/feature-flags/${name}`, { token })).json).toEqual(created.json)
        const list = yield* call("GET", "/api/v1/feature-flags", { token })
        expect((list.json as { items: ReadonlyArray<{ name: string }> }).items.map((f) => f.name)).toContain(name)

        const changed = yield* call("PATCH", `/api/v1/feature-flags/${name}`, {
          token,
          body: { enabled: true, rolloutPercent: 40, rules: { roles: ["tutor"] }, expiresAt: "2099-01-01T00:00:00Z" }
        })
        expect(changed.status).toBe(200)
        expect(changed.json).toMatchObject({
          enabled: true,
          rolloutPercent: 40,
          rules: { userIds: [], roles: ["tutor"], attributes: {} },
          expiresAt: "2099-01-01T00:00:00.000Z",
          description: "Board"
        })
        const cleared = yield* call("PATCH", `/api/v1/feature-flags/${name}`, { token, body: { expiresAt: null } })
        expect(cleared.json).toMatchObject({ expiresAt: null, rolloutPercent: 40 })

        expect((yield* call("DELETE", `/api/v1/feature-flags/${name}`, { token })).status).toBe(204)
        for (const [method, body] of [["GET", undefined], ["PATCH", { enabled: false }], ["DELETE", undefined]] as const) {
          const r = yield* call(method, `/api/v1/feature-flags/${name}`, { token, ...(body === undefined ? {} : { body }) })
          expect(outcome(r), method).toEqual([404, "FLAG_NOT_FOUND"])
        }
        const check = yield* call("GET", `/api/v1/feature-flags/check/${name}`, { token })
        expect(check.json).toEqual({ name, enabled: false, reason: "NOT_FOUND" })
      }))

    it.effect("tutors and students may only evaluate; anonymous callers get 401 everywhere; nothing changes", () =>
      Effect.gen(function*() {
        const admin = yield* signedIn("admin")
        const name = unique("secret")
        yield* call("POST", "/api/v1/feature-flags", { token: admin.token, body: { name, description: "internal" } })
        const before = yield* snapshot(flagTables)
        for (const role of ["tutor", "student"] as const) {
          const { token } = yield* signedIn(role)
          const afterSeed = yield* snapshot(flagTables)
          for (const [method, path, body] of [
            ["POST", "/api/v1/feature-flags", { name: unique("mine") }],
            ["GET", "/api/v1/feature-flags", undefined],
            ["GET", "/api/v1/feature-flags?forUser=false", undefined],
            ["GET", `/api/v1/feature-flags/${name}`, undefined],
            ["PATCH", `/api/v1/feature-flags/${name}`, { enabled: true }],
            ["DELETE", `/api/v1/feature-flags/${name}`, undefined]
          ] as const) {
            const r = yield* call(method, path, { token, ...(body === undefined ? {} : { body }) })
            expect(outcome(r), `${role} ${method} ${path}`).toEqual([403, "FORBIDDEN"])
            expect(r.text).not.toContain("internal")
          }
          expect((yield* call("GET", `/api/v1/feature-flags/check/${name}`, { token })).status).toBe(200)
          expect((yield* call("GET", "/api/v1/feature-flags?forUser=true", { token })).status).toBe(200)
          // Evaluating for someone else is for admins.
          const other = yield* call("GET", `/api/v1/feature-flags/check/${name}?userId=${admin.user.id}`, { token })
          expect(outcome(other)).toEqual([403, "FORBIDDEN"])
          expect(yield* snapshot(flagTables)).toEqual(afterSeed)
        }
        for (const [method, path] of [
          ["POST", "/api/v1/feature-flags"],
          ["GET", "/api/v1/feature-flags"],
          ["GET", "/api/v1/feature-flags?forUser=true"],
          ["GET", `/api/v1/feature-flags/check/${name}`],
          ["GET", `/api/v1/feature-flags/${name}`],
          ["PATCH", `/api/v1/feature-flags/${name}`],
          ["DELETE", `/api/v1/feature-flags/${name}`]
        ] as const) {
          expect(outcome(yield* call(method, path, method === "GET" ? {} : { body: {} })), `${method} ${path}`)
            .toEqual([401, "AUTHENTICATION_REQUIRED"])
        }
        expect((yield* snapshot(["feature_flags"])).feature_flags).toEqual(before.feature_flags)
      }))

    it.effect("bad flags are refused with every field named, and nothing is stored", () =>
      Effect.gen(function*() {
        const { token } = yield* signedIn("admin")
        const before = yield* snapshot(["feature_flags"])
        const bad = yield* call("POST", "/api/v1/feature-flags", {
          token,
          body: {
            name: "Bad Name!",
            rolloutPercent: 101,
            enabled: "yes",
            rules: { userIds: ["someone"], roles: ["janitor"], attributes: { "Is-Premium": [true], plan: [] } },
            expiresAt: "soon"
          }
        })
        expect(outcome(bad)).toEqual([400, "VALIDATION_ERROR"])
        expect(Object.keys(fieldsOf(bad)).sort(), bad.text).toEqual([
          "enabled",
          "expiresAt",
          "name",
          "rolloutPercent",
          "rules.attributes.Is-Premium",
          "rules.attributes.plan",
          "rules.roles.0",
          "rules.userIds.0"
        ])
        expect(Object.keys(fieldsOf(bad)).sort()).toEqual([
          "enabled",
          "expiresAt",
          "name",
          "rolloutPercent",
          "rules.attributes.Is-Premium",
          "rules.attributes.plan",
          "rules.roles.0",
          "rules.userIds.0"
        ])
        const fraction = yield* call("POST", "/api/v1/feature-flags", { token, body: { name: "ok", rolloutPercent: 2.5 } })
        expect(fieldsOf(fraction)).toEqual({ rolloutPercent: expect.stringMatching(/whole number from 0 to 100/) })
        const missing = yield* call("PATCH", `/api/v1/feature-flags/${unique("nope")}`, { token, body: { rolloutPercent: -1 } })
        expect(outcome(missing)).toEqual([400, "VALIDATION_ERROR"])
        expect(yield* snapshot(["feature_flags"])).toEqual(before)
      }))

    it.effect("check answers every reason: NOT_FOUND, DISABLED, EXPIRED, USER_LISTED, ROLE_MATCH, ATTRIBUTE_MATCH, ROLLOUT_*", () =>
      Effect.gen(function*() {
        const admin = yield* signedIn("admin")
        const tutor = yield* signedIn("tutor", { domain: "School.org" })
        const student = yield* signedIn("student")
        const flag = (body: Record<string, unknown>) =>
          Effect.map(
            call("POST", "/api/v1/feature-flags", { token: admin.token, body: { enabled: true, ...body } }),
            (r) => {
              expect(r.status, r.text).toBe(201)
              return String((r.json as { name: string }).name)
            }
          )
        const check = (token: string, name: string) =>
          Effect.map(call("GET", `/api/v1/feature-flags/check/${name}`, { token }), (r) => {
            expect(r.status, r.text).toBe(200)
            return r.json
          })

        const off = yield* flag({ name: unique("off"), enabled: false, rolloutPercent: 100 })
        const expired = yield* flag({ name: unique("expired"), rolloutPercent: 100, expiresAt: "2020-01-01T00:00:00Z" })
        const listed = yield* flag({ name: unique("listed"), rules: { userIds: [student.user.id] } })
        const tutors = yield* flag({ name: unique("tutors"), rules: { roles: ["tutor"] } })
        const premium = yield* flag({ name: unique("premium"), rules: { attributes: { is_premium: [true] } } })
        const school = yield* flag({ name: unique("school"), rules: { attributes: { email_domain: ["school.org"] } } })
        const everyone = yield* flag({ name: unique("everyone"), rolloutPercent: 100 })
        const nobody = yield* flag({ name: unique("nobody"), rolloutPercent: 0 })

        const expectReason = (token: string, name: string, enabled: boolean, reason: string) =>
          Effect.map(check(token, name), (json) => expect(json, name).toEqual({ name, enabled, reason }))
        yield* expectReason(student.token, "never.created", false, "NOT_FOUND")
        yield* expectReason(student.token, off, false, "DISABLED")
        yield* expectReason(student.token, expired, false, "EXPIRED")
        yield* expectReason(student.token, listed, true, "USER_LISTED")
        yield* expectReason(tutor.token, listed, false, "ROLLOUT_OUT")
        yield* expectReason(tutor.token, tutors, true, "ROLE_MATCH")
        yield* expectReason(student.token, tutors, false, "ROLLOUT_OUT")
        yield* expectReason(tutor.token, school, true, "ATTRIBUTE_MATCH")
        yield* expectReason(student.token, school, false, "ROLLOUT_OUT")
        yield* expectReason(student.token, everyone, true, "ROLLOUT_IN")
        yield* expectReason(student.token, nobody, false, "ROLLOUT_OUT")

        // Stored attributes apply from the next check, without a new token.
        yield* expectReason(student.token, premium, false, "ROLLOUT_OUT")
        const set = yield* call("PATCH", `/api/v1/users/${student.user.id}`, {
          token: admin.token,
          body: { attributes: { is_premium: true, country: "FR" } }
        })
        expect(set.json).toMatchObject({ attributes: { is_premium: true, country: "FR" } })
        yield* expectReason(student.token, premium, true, "ATTRIBUTE_MATCH")
        // Derived attributes cannot be overridden through stored ones.
        const spoof = yield* call("PATCH", `/api/v1/users/${student.user.id}`, {
          token: admin.token,
          body: { attributes: { email_domain: "school.org" } }
        })
        expect(outcome(spoof)).toEqual([400, "VALIDATION_ERROR"])
        expect(fieldsOf(spoof).attributes).toMatch(/derived/)

        // Admins may evaluate for anyone; an unknown user is 404.
        const forStudent = yield* call("GET", `/api/v1/feature-flags/check/${premium}?userId=${student.user.id}`, {
          token: admin.token
        })
        expect(forStudent.json).toEqual({ name: premium, enabled: true, reason: "ATTRIBUTE_MATCH" })
        const ghost = yield* call("GET", `/api/v1/feature-flags/check/${premium}?userId=${randomUUID()}`, {
          token: admin.token
        })
        expect(outcome(ghost)).toEqual([404, "USER_NOT_FOUND"])

        // The evaluated set has every flag once, by name, each as check answers it.
        const all = yield* call("GET", "/api/v1/feature-flags?forUser=true", { token: tutor.token })
        const flags = (all.json as { flags: ReadonlyArray<{ name: string; enabled: boolean; reason: string }> }).flags
        expect(flags.map((f) => f.name)).toEqual([...flags.map((f) => f.name)].sort())
        for (const name of [off, expired, listed, tutors, premium, school, everyone, nobody]) {
          expect(flags.find((f) => f.name === name), name).toEqual(yield* check(tutor.token, name))
        }
      }))
  })
})
