import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { SignJWT } from "jose"
import { Users } from "../../src/services/Users.ts"
import { call, errorCode } from "../support/Http.ts"
import { backendLabel, serverStack, testJwtSecret, liveStack } from "../support/TestStack.ts"

const password = "correct horse battery"

const seed = Effect.gen(function*() {
  const users = yield* Users
  const suffix = Math.random().toString(36).slice(2, 8)
  const admin = yield* users.create({ email: `admin-${suffix}@example.com`, password, role: "admin" })
  const student = yield* users.create({ email: `Student-${suffix}@Example.com`, password, role: "student" })
  return { admin, student }
})

const login = (email: string, pw = password) => call("POST", "/api/v1/auth/login", { body: { email, password: pw } })

const tokensOf = (json: unknown) => json as { accessToken: string; refreshToken: string; expiresIn: number }

describe(`accounts and auth (${backendLabel})`, () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.effect("login → /me → refresh gives a new pair → reusing the old refresh token revokes the family", () =>
      Effect.gen(function*() {
        const { student } = yield* seed
        const first = yield* login(student.email.toUpperCase())
        expect(first.status).toBe(200)
        const pair1 = tokensOf(first.json)
        expect(pair1.expiresIn).toBe(15 * 60)
        expect(first.json).toMatchObject({ tokenType: "Bearer", user: { id: student.id, role: "student" } })
        expect(first.text).not.toContain("password")

        const me = yield* call("GET", "/api/v1/me", { token: pair1.accessToken })
        expect(me.status).toBe(200)
        expect(me.json).toMatchObject({ id: student.id, email: student.email, role: "student", disabled: false })

        const refreshed = yield* call("POST", "/api/v1/auth/refresh", { body: { refreshToken: pair1.refreshToken } })
        expect(refreshed.status).toBe(200)
        const pair2 = tokensOf(refreshed.json)
        expect(pair2.refreshToken).not.toBe(pair1.refreshToken)
        expect((yield* call("GET", "/api/v1/me", { token: pair2.accessToken })).status).toBe(200)

        const reused = yield* call("POST", "/api/v1/auth/refresh", { body: { refreshToken: pair1.refreshToken } })
        expect(reused.status).toBe(401)
        expect(errorCode(reused)).toBe("REFRESH_TOKEN_REUSED")
        // The whole family is gone: the legitimately rotated token no longer works either.
        const afterRevocation = yield* call("POST", "/api/v1/auth/refresh", { body: { refreshToken: pair2.refreshToken } })
        expect(afterRevocation.status).toBe(401)
        expect(errorCode(afterRevocation)).toBe("REFRESH_TOKEN_INVALID")
      }))

    it.effect("logout ends the session's refresh tokens", () =>
      Effect.gen(function*() {
        const { student } = yield* seed
        const pair = tokensOf((yield* login(student.email)).json)
        expect((yield* call("POST", "/api/v1/auth/logout", { body: { refreshToken: pair.refreshToken } })).status)
          .toBe(204)
        const after = yield* call("POST", "/api/v1/auth/refresh", { body: { refreshToken: pair.refreshToken } })
        expect(errorCode(after)).toBe("REFRESH_TOKEN_INVALID")
        // Another login session of the same user is unaffected.
        const other = tokensOf((yield* login(student.email)).json)
        expect((yield* call("POST", "/api/v1/auth/refresh", { body: { refreshToken: other.refreshToken } })).status)
          .toBe(200)
      }))

    it.effect("wrong password and unknown email answer the same INVALID_CREDENTIALS", () =>
      Effect.gen(function*() {
        const { student } = yield* seed
        const wrong = yield* login(student.email, "not the password")
        const unknown = yield* login("nobody@example.com")
        for (const response of [wrong, unknown]) {
          expect(response.status).toBe(401)
          expect(errorCode(response)).toBe("INVALID_CREDENTIALS")
        }
        expect(wrong.json).toEqual(unknown.json)
      }))

    it.effect("missing, malformed and expired access tokens get distinct 401 codes", () =>
      Effect.gen(function*() {
        const { student } = yield* seed
        const missing = yield* call("GET", "/api/v1/me")
        expect([missing.status, errorCode(missing)]).toEqual([401, "AUTHENTICATION_REQUIRED"])
        const garbage = yield* call("GET", "/api/v1/me", { token: "not.a.jwt" })
        expect([garbage.status, errorCode(garbage)]).toEqual([401, "TOKEN_INVALID"])
        const forged = yield* Effect.promise(() =>
          new SignJWT({ role: "admin", sid: "x" }).setProtectedHeader({ alg: "HS256" }).setSubject(student.id)
            .setIssuer("lectern").setAudience("lectern").setIssuedAt().setExpirationTime("5m")
            .sign(new TextEncoder().encode("some-other-secret-some-other-secret"))
        )
        const badSignature = yield* call("GET", "/api/v1/me", { token: forged })
        expect([badSignature.status, errorCode(badSignature)]).toEqual([401, "TOKEN_INVALID"])
        const now = Math.floor(Date.now() / 1000)
        const expiredToken = yield* Effect.promise(() =>
          new SignJWT({ role: "student", sid: "x" }).setProtectedHeader({ alg: "HS256" }).setSubject(student.id)
            .setIssuer("lectern").setAudience("lectern").setIssuedAt(now - 3600).setExpirationTime(now - 60)
            .sign(new TextEncoder().encode(testJwtSecret))
        )
        const expired = yield* call("GET", "/api/v1/me", { token: expiredToken })
        expect([expired.status, errorCode(expired)]).toEqual([401, "TOKEN_EXPIRED"])
      }))

    it.effect("a student calling an admin route → 403 FORBIDDEN; an admin manages users", () =>
      Effect.gen(function*() {
        const { admin, student } = yield* seed
        const studentToken = tokensOf((yield* login(student.email)).json).accessToken
        const adminToken = tokensOf((yield* login(admin.email)).json).accessToken

        const denied = yield* call("GET", "/api/v1/users", { token: studentToken })
        expect([denied.status, errorCode(denied)]).toEqual([403, "FORBIDDEN"])
        const deniedCreate = yield* call("POST", "/api/v1/users", {
          token: studentToken,
          body: { email: "x@example.com", password, role: "admin" }
        })
        expect([deniedCreate.status, errorCode(deniedCreate)]).toEqual([403, "FORBIDDEN"])

        const created = yield* call("POST", "/api/v1/users", {
          token: adminToken,
          body: { email: "New.Tutor@example.com", password, role: "tutor", displayName: "  Ada L.  " }
        })
        expect(created.status).toBe(201)
        expect(created.json).toMatchObject({ email: "New.Tutor@example.com", displayName: "Ada L.", role: "tutor" })
        const duplicate = yield* call("POST", "/api/v1/users", {
          token: adminToken,
          body: { email: "new.tutor@EXAMPLE.com", password, role: "student" }
        })
        expect([duplicate.status, errorCode(duplicate)]).toEqual([409, "EMAIL_TAKEN"])
        expect(duplicate.json).toMatchObject({ error: { fields: { email: "already registered" } } })

        const invalid = yield* call("POST", "/api/v1/users", {
          token: adminToken,
          body: { email: "nope", password: "short", role: "janitor" }
        })
        expect(invalid.status).toBe(400)
        expect(Object.keys((invalid.json as { error: { fields: object } }).error.fields).sort())
          .toEqual(["email", "password", "role"])
      }))

    it.effect("users are listed with cursor pagination and can be disabled, which ends their sessions", () =>
      Effect.gen(function*() {
        const { admin, student } = yield* seed
        const adminToken = tokensOf((yield* login(admin.email)).json).accessToken
        const studentPair = tokensOf((yield* login(student.email)).json)

        const seen = new Set<string>()
        let cursor: string | null = null
        let pages = 0
        do {
          const query: string = cursor === null ? "?limit=2" : `?limit=2&cursor=${encodeURIComponent(cursor)}`
          const page = yield* call("GET", `/api/v1/users${query}`, { token: adminToken })
          expect(page.status).toBe(200)
          const body = page.json as { items: Array<{ id: string }>; nextCursor: string | null }
          expect(body.items.length).toBeLessThanOrEqual(2)
          for (const item of body.items) {
            expect(seen.has(item.id)).toBe(false)
            seen.add(item.id)
          }
          cursor = body.nextCursor
          pages++
        } while (cursor !== null && pages < 50)
        expect(seen.has(admin.id) && seen.has(student.id)).toBe(true)

        for (const bad of ["?limit=0", "?limit=10000", "?limit=abc"]) {
          const response = yield* call("GET", `/api/v1/users${bad}`, { token: adminToken })
          expect([response.status, errorCode(response)]).toEqual([400, "VALIDATION_ERROR"])
          expect(response.json).toMatchObject({ error: { fields: { limit: expect.any(String) } } })
        }
        const badCursor = yield* call("GET", "/api/v1/users?cursor=garbage", { token: adminToken })
        expect([badCursor.status, errorCode(badCursor)]).toEqual([400, "INVALID_CURSOR"])

        const disabled = yield* call("PATCH", `/api/v1/users/${student.id}`, {
          token: adminToken,
          body: { disabled: true }
        })
        expect(disabled.status).toBe(200)
        expect(disabled.json).toMatchObject({ disabled: true })
        expect(errorCode(yield* login(student.email))).toBe("ACCOUNT_DISABLED")
        expect(errorCode(yield* call("POST", "/api/v1/auth/refresh", { body: { refreshToken: studentPair.refreshToken } })))
          .toBe("REFRESH_TOKEN_INVALID")
        expect(errorCode(yield* call("GET", "/api/v1/me", { token: studentPair.accessToken }))).toBe("ACCOUNT_DISABLED")

        const missing = yield* call("GET", "/api/v1/users/00000000-0000-4000-8000-000000000000", { token: adminToken })
        expect([missing.status, errorCode(missing)]).toEqual([404, "USER_NOT_FOUND"])
        const notUuid = yield* call("GET", "/api/v1/users/123", { token: adminToken })
        expect([notUuid.status, errorCode(notUuid)]).toEqual([400, "VALIDATION_ERROR"])
      }))
  })
})
