/**
 * Offline sync over REST, without lessons: notification read marks pushed
 * exactly once, per-mutation rejections that change nothing, batches refused as
 * a whole, pull checkpoints (reset, incremental, repeatable, forged, foreign),
 * and devices (list, revoke, a revoked device locked out).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric, MetricKey, MetricLabel } from "effect"
import { randomUUID } from "node:crypto"
import { Notifications } from "../../src/services/Notifications.ts"
import { syncMutationsKey } from "../../src/services/Sync.ts"
import { call, errorCode, type TestResponse } from "../support/Http.ts"
import { signedIn } from "../support/Seed.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"

interface Pull {
  readonly checkpoint: string
  readonly reset: boolean
  readonly lastMutationId: number
  readonly notifications: ReadonlyArray<{ readonly id: string; readonly title: string; readonly readAt: string | null }>
  readonly hasMore: boolean
}
interface Push {
  readonly lastMutationId: number
  readonly results: ReadonlyArray<{ readonly id: number; readonly status: string; readonly error?: { code: string; fields: Record<string, string> } }>
}

const push = (token: string, body: unknown) => call("POST", "/api/v1/sync/push", { token, body })
const pull = (token: string, clientId: string, checkpoint?: string) =>
  call("GET", `/api/v1/sync/pull?clientId=${clientId}${checkpoint === undefined ? "" : `&checkpoint=${encodeURIComponent(checkpoint)}`}`, { token })
const ok = <A>(response: TestResponse): A => {
  expect(response.status, response.text).toBe(200)
  return response.json as A
}
const counted = (entity: string, op: string, status: string) =>
  Effect.map(
    Metric.value(Metric.fromMetricKey(MetricKey.taggedWithLabels(syncMutationsKey, [
      MetricLabel.make("entity", entity),
      MetricLabel.make("op", op),
      MetricLabel.make("status", status)
    ]))),
    (state) => state.count
  )
const read = (id: number, notificationId: string) => ({ id, entity: "notification", op: "read", args: { notificationId } })

describe(`sync push/pull, notifications and devices (${backendLabel})`, () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.effect("read marks apply once; a retried push is all duplicates; bad mutations are rejected alone", () =>
      Effect.gen(function*() {
        const notifications = yield* Notifications
        const me = yield* signedIn("student")
        const other = yield* signedIn("student")
        const mine = yield* Effect.forEach([1, 2, 3], (n) => notifications.notify(me.user.id, { type: "system", title: `N${n}` }))
        const theirs = yield* notifications.notify(other.user.id, { type: "system", title: "not yours" })
        const [n1, n2, n3] = mine.map((o) => o._tag === "Some" ? o.value.id : "")
        const foreign = theirs._tag === "Some" ? theirs.value.id : ""
        const clientId = randomUUID()

        const batch = {
          clientId,
          device: { name: "Phone", platform: "android" },
          mutations: [
            read(1, n1 ?? ""),
            { id: 2, entity: "calendar", op: "move", args: {} },
            read(3, foreign),
            read(5, "not-a-uuid"),
            read(8, n2 ?? "")
          ]
        }
        const appliedBefore = yield* counted("notification", "read", "applied")
        const unknownBefore = yield* counted("unknown", "unknown", "rejected")
        const first = ok<Push>(yield* push(me.token, batch))
        expect(first.lastMutationId).toBe(8)
        expect(first.results.map((r) => [r.id, r.status, r.error?.code])).toEqual([
          [1, "applied", undefined],
          [2, "rejected", "SYNC_UNKNOWN_MUTATION"],
          [3, "rejected", "NOTIFICATION_NOT_FOUND"],
          [5, "rejected", "VALIDATION_ERROR"],
          [8, "applied", undefined]
        ])
        expect(Object.keys(first.results[3]?.error?.fields ?? {})).toEqual(["args.notificationId"])
        // Counted per entity, op and status; unknown mutations under one label set.
        expect((yield* counted("notification", "read", "applied")) - appliedBefore).toBe(2)
        expect((yield* counted("unknown", "unknown", "rejected")) - unknownBefore).toBe(1)
        expect((yield* call("GET", "/api/v1/notifications/unread-count", { token: me.token })).json).toEqual({ count: 1 })
        // The other user's notification was not touched by the rejected mutation.
        expect((yield* call("GET", "/api/v1/notifications/unread-count", { token: other.token })).json).toEqual({ count: 1 })

        // The answer was "lost": the same batch again changes nothing.
        const retry = ok<Push>(yield* push(me.token, batch))
        expect(retry.results.map((r) => r.status)).toEqual(["duplicate", "duplicate", "duplicate", "duplicate", "duplicate"])
        expect(retry.lastMutationId).toBe(8)
        // A new mutation reading an already read notification is a duplicate; a fresh one applies.
        const more = ok<Push>(yield* push(me.token, { clientId, mutations: [read(9, n1 ?? ""), read(10, n3 ?? "")] }))
        expect(more.results.map((r) => r.status)).toEqual(["duplicate", "applied"])
        expect((yield* call("GET", "/api/v1/notifications/unread-count", { token: me.token })).json).toEqual({ count: 0 })
      }))

    it.effect("batches that are unordered, oversized or malformed are refused whole and change nothing", () =>
      Effect.gen(function*() {
        const notifications = yield* Notifications
        const me = yield* signedIn("student")
        const created = yield* notifications.notify(me.user.id, { type: "system", title: "keep unread" })
        const id = created._tag === "Some" ? created.value.id : ""
        const clientId = randomUUID()

        const unordered = yield* push(me.token, { clientId, mutations: [read(3, id), read(2, id)] })
        expect([unordered.status, errorCode(unordered)]).toEqual([400, "SYNC_MUTATION_ORDER"])
        expect((unordered.json as { error: { fields: Record<string, string> } }).error.fields).toHaveProperty("mutations.1.id")
        const repeated = yield* push(me.token, { clientId, mutations: [read(4, id), read(4, id)] })
        expect([repeated.status, errorCode(repeated)]).toEqual([400, "SYNC_MUTATION_ORDER"])
        const oversized = yield* push(me.token, {
          clientId,
          mutations: Array.from({ length: 101 }, (_, i) => read(i + 1, id))
        })
        expect([oversized.status, errorCode(oversized)]).toEqual([400, "VALIDATION_ERROR"])
        const malformed = yield* push(me.token, { clientId, mutations: [{ id: 0, entity: "", args: 1 }] })
        expect([malformed.status, errorCode(malformed)]).toEqual([400, "VALIDATION_ERROR"])
        expect(Object.keys((malformed.json as { error: { fields: Record<string, string> } }).error.fields).sort()).toEqual([
          "mutations.0.entity",
          "mutations.0.id",
          "mutations.0.op"
        ])
        const empty = yield* push(me.token, { clientId, mutations: [] })
        expect([empty.status, errorCode(empty)]).toEqual([400, "VALIDATION_ERROR"])
        expect((yield* call("GET", "/api/v1/notifications/unread-count", { token: me.token })).json).toEqual({ count: 1 })
        // Nothing was recorded for the client either: mutation 1 still applies.
        const fine = ok<Push>(yield* push(me.token, { clientId, mutations: [read(1, id)] }))
        expect(fine.results.map((r) => r.status)).toEqual(["applied"])
        expect((yield* push(me.token, { clientId: "nope", mutations: [read(1, id)] })).status).toBe(400)
        expect((yield* push("", { clientId, mutations: [read(2, id)] })).status).toBe(401)
      }))

    it.effect("pull: reset first, then only changes; an old checkpoint can be repeated; forged or foreign ones are 400", () =>
      Effect.gen(function*() {
        const notifications = yield* Notifications
        const me = yield* signedIn("student")
        const other = yield* signedIn("student")
        yield* notifications.notify(me.user.id, { type: "system", title: "A" })
        yield* notifications.notify(other.user.id, { type: "system", title: "other's" })
        const clientId = randomUUID()

        const first = ok<Pull>(yield* pull(me.token, clientId))
        expect(first.reset).toBe(true)
        expect(first.lastMutationId).toBe(0)
        expect(first.notifications.map((n) => n.title)).toEqual(["A"])

        const quiet = ok<Pull>(yield* pull(me.token, clientId, first.checkpoint))
        expect([quiet.reset, quiet.notifications.length, quiet.hasMore]).toEqual([false, 0, false])

        const b = yield* notifications.notify(me.user.id, { type: "system", title: "B" })
        const bId = b._tag === "Some" ? b.value.id : ""
        ok<Push>(yield* push(me.token, { clientId, mutations: [read(1, bId)] }))
        const changed = ok<Pull>(yield* pull(me.token, clientId, quiet.checkpoint))
        expect(changed.reset).toBe(false)
        expect(changed.lastMutationId).toBe(1)
        // Created then read: one entry, in its latest state.
        expect(changed.notifications.map((n) => [n.title, n.readAt !== null])).toEqual([["B", true]])

        // The answer to `changed` was lost: pulling again from `quiet` gives the same changes.
        const again = ok<Pull>(yield* pull(me.token, clientId, quiet.checkpoint))
        expect(again.notifications.map((n) => n.title)).toEqual(["B"])
        // Two generations back is gone: reset, never an error.
        const stale = ok<Pull>(yield* pull(me.token, clientId, first.checkpoint))
        expect(stale.reset).toBe(true)

        const [payload, signature] = again.checkpoint.split(".")
        const tampered = `${payload}.${(signature ?? "").replace(/^./, (c) => (c === "A" ? "B" : "A"))}`
        for (const bad of [tampered, "garbage", `${payload}`, "a.b.c"]) {
          const response = yield* pull(me.token, clientId, bad)
          expect([response.status, errorCode(response)], bad).toEqual([400, "INVALID_CHECKPOINT"])
        }
        // A genuine checkpoint of another device (even the same user's) is refused.
        const otherDevice = randomUUID()
        const foreign = yield* pull(me.token, otherDevice, again.checkpoint)
        expect([foreign.status, errorCode(foreign)]).toEqual([400, "INVALID_CHECKPOINT"])
        // Another user cannot use my client id, with or without my checkpoint.
        const hijack = yield* pull(other.token, clientId, again.checkpoint)
        expect([hijack.status, errorCode(hijack)]).toEqual([409, "SYNC_CLIENT_TAKEN"])
        expect(JSON.stringify(hijack.json)).not.toContain("\"B\"")
      }))

    it.effect("devices: listed with last seen; revoked by the owner or an admin; a revoked device is locked out", () =>
      Effect.gen(function*() {
        const me = yield* signedIn("student")
        const stranger = yield* signedIn("student")
        const admin = yield* signedIn("admin")
        const phone = randomUUID()
        const tablet = randomUUID()
        ok<Push>(yield* push(me.token, { clientId: phone, device: { name: "Phone", platform: "ios" }, mutations: [{ id: 1, entity: "x", op: "y", args: null }] }))
        ok<Pull>(yield* pull(me.token, tablet))

        const list = ok<{ items: Array<{ clientId: string; name: string; platform: string; lastMutationId: number; lastPushAt: string | null; lastPullAt: string | null }> }>(
          yield* call("GET", "/api/v1/sync/devices", { token: me.token })
        )
        expect(list.items.map((d) => d.clientId).sort()).toEqual([phone, tablet].sort())
        const phoneRow = list.items.find((d) => d.clientId === phone)
        expect(phoneRow).toMatchObject({ name: "Phone", platform: "ios", lastMutationId: 1, lastPullAt: null })
        expect(phoneRow?.lastPushAt).toMatch(/^\d{4}-/)

        const peek = yield* call("GET", `/api/v1/sync/devices?userId=${me.user.id}`, { token: stranger.token })
        expect([peek.status, errorCode(peek)]).toEqual([403, "FORBIDDEN"])
        const asAdmin = ok<{ items: Array<unknown> }>(yield* call("GET", `/api/v1/sync/devices?userId=${me.user.id}`, { token: admin.token }))
        expect(asAdmin.items.length).toBe(2)

        const strangerRevoke = yield* call("DELETE", `/api/v1/sync/devices/${phone}`, { token: stranger.token })
        expect([strangerRevoke.status, errorCode(strangerRevoke)]).toEqual([404, "SYNC_CLIENT_NOT_FOUND"])
        const revoked = ok<{ revokedAt: string | null }>(yield* call("DELETE", `/api/v1/sync/devices/${phone}`, { token: admin.token }))
        expect(revoked.revokedAt).toMatch(/^\d{4}-/)
        const mine = ok<{ revokedAt: string | null }>(yield* call("DELETE", `/api/v1/sync/devices/${tablet}`, { token: me.token }))
        expect(mine.revokedAt).toMatch(/^\d{4}-/)

        const pushed = yield* push(me.token, { clientId: phone, mutations: [{ id: 2, entity: "x", op: "y", args: null }] })
        expect([pushed.status, errorCode(pushed)]).toEqual([403, "SYNC_CLIENT_REVOKED"])
        const pulled = yield* pull(me.token, tablet)
        expect([pulled.status, errorCode(pulled)]).toEqual([403, "SYNC_CLIENT_REVOKED"])
        const after = ok<{ items: Array<{ clientId: string; lastMutationId: number; revokedAt: string | null }> }>(
          yield* call("GET", "/api/v1/sync/devices", { token: me.token })
        )
        expect(after.items.every((d) => d.revokedAt !== null)).toBe(true)
        expect(after.items.find((d) => d.clientId === phone)?.lastMutationId).toBe(1)
        const unknown = yield* call("DELETE", `/api/v1/sync/devices/${randomUUID()}`, { token: admin.token })
        expect([unknown.status, errorCode(unknown)]).toEqual([404, "SYNC_CLIENT_NOT_FOUND"])
      }))
  })
})
