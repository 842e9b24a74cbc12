import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createECDH, randomBytes } from "node:crypto"
import { Notifications } from "../../src/services/Notifications.ts"
import { Users } from "../../src/services/Users.ts"
import { call, errorCode } from "../support/Http.ts"
import { jobsServerStack } from "../support/JobsStack.ts"
import { backendLabel, liveStack } from "../support/TestStack.ts"

const password = "correct horse battery"

const member = Effect.gen(function*() {
  const users = yield* Users
  const user = yield* users.create({ email: `m-${Math.random().toString(36).slice(2, 10)}@example.com`, password, role: "student" })
  const login = yield* call("POST", "/api/v1/auth/login", { body: { email: user.email, password } })
  return { user, token: (login.json as { accessToken: string }).accessToken }
})

const keys = () => ({
  p256dh: createECDH("prime256v1").generateKeys().toString("base64url"),
  auth: randomBytes(16).toString("base64url")
})

describe(`notifications and push REST (${backendLabel})`, () => {
  it.layer(jobsServerStack(), liveStack)((it) => {
    it.effect("list (cursor, unread filter), unread count, read one, read all; others' notifications are 404", () =>
      Effect.gen(function*() {
        const notifications = yield* Notifications
        const me = yield* member
        const other = yield* member
        for (const n of [1, 2, 3]) yield* notifications.notify(me.user.id, { type: "system", title: `Note ${n}` })

        const count = yield* call("GET", "/api/v1/notifications/unread-count", { token: me.token })
        expect(count.json).toEqual({ count: 3 })
        const first = yield* call("GET", "/api/v1/notifications?limit=2", { token: me.token })
        const page1 = first.json as { items: Array<{ id: string; title: string }>; nextCursor: string }
        expect(page1.items.map((n) => n.title)).toEqual(["Note 3", "Note 2"])
        const second = yield* call("GET", `/api/v1/notifications?limit=2&cursor=${page1.nextCursor}`, { token: me.token })
        expect(second.json).toMatchObject({ items: [{ title: "Note 1", readAt: null }], nextCursor: null })

        const newest = page1.items[0]?.id ?? ""
        const read = yield* call("POST", `/api/v1/notifications/${newest}/read`, { token: me.token })
        expect(read.status).toBe(200)
        expect((read.json as { readAt: string | null }).readAt).toMatch(/^\d{4}-/)
        expect((yield* call("GET", "/api/v1/notifications/unread-count", { token: me.token })).json).toEqual({ count: 2 })
        const unreadOnly = yield* call("GET", "/api/v1/notifications?unread=true", { token: me.token })
        expect((unreadOnly.json as { items: Array<{ title: string }> }).items.map((n) => n.title)).toEqual(["Note 2", "Note 1"])

        const foreign = yield* call("POST", `/api/v1/notifications/${newest}/read`, { token: other.token })
        expect([foreign.status, errorCode(foreign)]).toEqual([404, "NOTIFICATION_NOT_FOUND"])
        const bad = yield* call("POST", "/api/v1/notifications/not-a-uuid/read", { token: me.token })
        expect([bad.status, errorCode(bad)]).toEqual([400, "VALIDATION_ERROR"])

        const all = yield* call("POST", "/api/v1/notifications/read-all", { token: me.token })
        expect(all.json).toEqual({ marked: 2 })
        expect((yield* call("GET", "/api/v1/notifications/unread-count", { token: me.token })).json).toEqual({ count: 0 })
        expect((yield* call("GET", "/api/v1/notifications/unread-count")).status).toBe(401)
      }))

    it.effect("preferences: every kind defaults on; PATCH changes only what it names; bad input names the fields", () =>
      Effect.gen(function*() {
        const me = yield* member
        const initial = yield* call("GET", "/api/v1/notifications/preferences", { token: me.token })
        const items = (initial.json as { items: Array<{ type: string; inApp: boolean; push: boolean }> }).items
        expect(items.length).toBe(7)
        expect(items.every((p) => p.inApp && p.push)).toBe(true)
        const patched = yield* call("PATCH", "/api/v1/notifications/preferences", {
          token: me.token,
          body: { items: [{ type: "chat.message", push: false }] }
        })
        expect(patched.status).toBe(200)
        const after = (patched.json as { items: Array<{ type: string; inApp: boolean; push: boolean }> }).items
        expect(after.find((p) => p.type === "chat.message")).toEqual({ type: "chat.message", inApp: true, push: false })
        expect(after.filter((p) => !p.push).length).toBe(1)
        const invalid = yield* call("PATCH", "/api/v1/notifications/preferences", {
          token: me.token,
          body: { items: [{ type: "nonsense", push: "yes" }] }
        })
        expect([invalid.status, errorCode(invalid)]).toEqual([400, "VALIDATION_ERROR"])
        expect(Object.keys((invalid.json as { error: { fields: Record<string, string> } }).error.fields).sort())
          .toEqual(["items.0.push", "items.0.type"])
      }))

    it.effect("push subscriptions: VAPID key, register (idempotent per endpoint), list, unregister, validation", () =>
      Effect.gen(function*() {
        const me = yield* member
        const other = yield* member
        const key = yield* call("GET", "/api/v1/push/vapid-public-key", { token: me.token })
        expect(Buffer.from((key.json as { publicKey: string }).publicKey, "base64url")).toHaveLength(65)

        const endpoint = `https://push.example/${me.user.id}`
        const registered = yield* call("POST", "/api/v1/push/subscriptions", {
          token: me.token,
          body: { endpoint, keys: keys(), device: "Firefox on laptop" }
        })
        expect(registered.status).toBe(201)
        expect(registered.json).toMatchObject({ endpoint, device: "Firefox on laptop", failureCount: 0, disabled: false })
        expect(registered.text).not.toContain("p256dh")
        const again = yield* call("POST", "/api/v1/push/subscriptions", { token: me.token, body: { endpoint, keys: keys() } })
        expect((again.json as { id: string }).id).toBe((registered.json as { id: string }).id)
        const list = yield* call("GET", "/api/v1/push/subscriptions", { token: me.token })
        expect((list.json as { items: Array<unknown> }).items).toHaveLength(1)

        const test = yield* call("POST", "/api/v1/push/test", { token: me.token })
        expect([test.status, test.json]).toEqual([202, { queued: 1 }])

        const id = (registered.json as { id: string }).id
        const foreign = yield* call("DELETE", `/api/v1/push/subscriptions/${id}`, { token: other.token })
        expect([foreign.status, errorCode(foreign)]).toEqual([404, "PUSH_SUBSCRIPTION_NOT_FOUND"])
        expect((yield* call("DELETE", `/api/v1/push/subscriptions/${id}`, { token: me.token })).status).toBe(204)
        expect(((yield* call("GET", "/api/v1/push/subscriptions", { token: me.token })).json as { items: Array<unknown> }).items)
          .toEqual([])

        const invalid = yield* call("POST", "/api/v1/push/subscriptions", {
          token: me.token,
          body: { endpoint: "ftp://nope", keys: { p256dh: "short", auth: "x" } }
        })
        expect([invalid.status, errorCode(invalid)]).toEqual([400, "VALIDATION_ERROR"])
        expect(Object.keys((invalid.json as { error: { fields: Record<string, string> } }).error.fields).sort())
          .toEqual(["endpoint", "keys.auth", "keys.p256dh"])
        const plainHttp = yield* call("POST", "/api/v1/push/subscriptions", {
          token: me.token,
          body: { endpoint: "http://push.example/x", keys: keys() }
        })
        expect([plainHttp.status, errorCode(plainHttp)]).toEqual([400, "VALIDATION_ERROR"])
      }))
  })
})
