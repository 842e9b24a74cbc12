/**
 * Offline sync (docs/sync.md): `push` applies a device's mutations in order, each
 * in its own transaction that also records the mutation id (so a retry is a
 * no-op), and `pull` answers what changed since the device's stored checkpoint.
 * Entity handlers and the lesson part of a pull live in their own modules.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Metric, MetricKey, MetricLabel, Option } from "effect"
import { storeCall } from "../layers/SqlErrors.ts"
import { toErrorBody } from "../schemas/ErrorCode.ts"
import { ServiceUnavailable } from "../schemas/Errors.ts"
import {
  type Mutation,
  type MutationResult,
  PullResponse,
  PushResponse,
  type SyncClientId,
  SyncClientRevoked,
  SyncMutationOrder,
  SyncUnknownMutation
} from "../schemas/Sync.ts"
import type { CodedError } from "../schemas/ErrorCode.ts"
import { Notifications } from "./Notifications.ts"
import { SyncCheckpoints } from "./SyncCheckpoints.ts"
import { type DeviceDetails, SyncClients } from "./SyncClients.ts"
import { SyncLessons } from "./SyncLessons.ts"
import type { MutationHandler, MutationOutcome, SyncActor } from "./SyncMutation.ts"
import { notificationHandlers } from "./SyncNotificationHandlers.ts"

/** Notifications in a reset answer. */
const resetNotifications = 200
/** Notification changes per pull (then `hasMore`). */
const notificationChangesLimit = 500

/** A mutation refused by its handler (domain error): its transaction is rolled back. */
class Rejection {
  readonly _tag = "Rejection"
  constructor(readonly error: CodedError) {}
}

// Infrastructure trouble and a revoked device stop the whole push; everything else rejects one mutation.
const isFatal = (error: CodedError): error is ServiceUnavailable | SyncClientRevoked =>
  error instanceof ServiceUnavailable || error instanceof SyncClientRevoked

/** Pushed mutations, by entity, op and status (applied, duplicate, conflict, rejected). */
export const syncMutationsKey = MetricKey.counter("lectern_sync_mutations_total", {
  description: "Pushed sync mutations by entity, op and status",
  incremental: true
})

// One metric per label set, made once: tagging on every update would allocate a new key each time.
const mutationCounters = new Map<string, Metric.Metric.Counter<number>>()
const countMutation = (entity: string, op: string, status: MutationResult["status"]) => {
  const id = `${entity}/${op}/${status}`
  let counter = mutationCounters.get(id)
  if (counter === undefined) {
    counter = Metric.fromMetricKey(MetricKey.taggedWithLabels(syncMutationsKey, [
      MetricLabel.make("entity", entity),
      MetricLabel.make("op", op),
      MetricLabel.make("status", status)
    ]))
    mutationCounters.set(id, counter)
  }
  return Metric.increment(counter)
}

/** Offline sync. */
export class Sync extends Effect.Service<Sync>()("lectern/Sync", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const clients = yield* SyncClients
    const checkpoints = yield* SyncCheckpoints
    const notifications = yield* Notifications
    const lessons = yield* SyncLessons
    const handlers = new Map<string, MutationHandler>(
      [...notificationHandlers(notifications), ...lessons.handlers].map((h) => [`${h.entity}/${h.op}`, h])
    )

    /** One mutation, in its own transaction; the client's last mutation id moves in that same transaction. */
    const processOne = (actor: SyncActor, clientId: SyncClientId, mutation: Mutation) =>
      Effect.gen(function*() {
        const attempt = yield* Effect.gen(function*() {
          const last = yield* clients.lock(clientId)
          if (mutation.id <= last) return Option.none<MutationOutcome>()
          const handler = handlers.get(`${mutation.entity}/${mutation.op}`)
          if (handler === undefined) {
            return yield* Effect.fail(new Rejection(new SyncUnknownMutation({ entity: mutation.entity, op: mutation.op })))
          }
          const outcome = yield* handler.apply(actor, mutation.args).pipe(
            Effect.mapError((e) => isFatal(e) ? e : new Rejection(e))
          )
          yield* clients.advance(clientId, mutation.id)
          return Option.some(outcome)
        }).pipe(sql.withTransaction, storeCall, Effect.either)
        if (attempt._tag === "Left") {
          const failure = attempt.left
          if (!(failure instanceof Rejection)) return yield* Effect.fail(failure)
          // Rolled back; record the mutation as processed on its own so it cannot block the queue behind it.
          yield* Effect.gen(function*() {
            const last = yield* clients.lock(clientId)
            if (mutation.id > last) yield* clients.advance(clientId, mutation.id)
          }).pipe(sql.withTransaction, storeCall)
          return { id: mutation.id, status: "rejected", error: toErrorBody(failure.error) } satisfies MutationResult
        }
        if (Option.isNone(attempt.right)) return { id: mutation.id, status: "duplicate" } satisfies MutationResult
        const outcome = attempt.right.value
        switch (outcome.status) {
          case "applied": {
            // Committed: live delivery is best effort (peers and devices catch up from the log).
            yield* Effect.catchAllCause(
              outcome.afterCommit,
              (cause) => Effect.logWarning("sync: post-commit delivery failed", cause)
            )
            return {
              id: mutation.id,
              status: "applied",
              ...(outcome.version === undefined ? {} : { version: outcome.version }),
              ...(outcome.result === undefined ? {} : { result: outcome.result })
            } satisfies MutationResult
          }
          case "duplicate":
            return { id: mutation.id, status: "duplicate" } satisfies MutationResult
          case "conflict":
            return { id: mutation.id, status: "conflict", version: outcome.version, server: outcome.server } satisfies MutationResult
        }
      }).pipe(Effect.withSpan("Sync.mutation", {
        attributes: { clientId, mutationId: mutation.id, entity: mutation.entity, op: mutation.op }
      }))

    /** Applies a batch of one device's mutations in order and reports each one. */
    const push = (
      actor: SyncActor,
      request: { readonly clientId: SyncClientId; readonly device?: DeviceDetails | undefined; readonly mutations: ReadonlyArray<Mutation> }
    ) =>
      Effect.gen(function*() {
        // Checked before anything is touched: an unordered batch changes nothing.
        const fields: Record<string, string> = {}
        request.mutations.forEach((m, i) => {
          const previous = request.mutations[i - 1]
          if (previous !== undefined && m.id <= previous.id) {
            fields[`mutations.${i}.id`] = `must be greater than ${previous.id} (the previous mutation's id)`
          }
        })
        if (Object.keys(fields).length > 0) return yield* new SyncMutationOrder({ fields })
        yield* clients.touch(actor.id, request.clientId, "push", request.device)
        const results: Array<MutationResult> = []
        for (const mutation of request.mutations) {
          const result = yield* processOne(actor, request.clientId, mutation)
          // Unknown entities are counted under one label set, so clients cannot grow the metric without bound.
          const known = handlers.has(`${mutation.entity}/${mutation.op}`)
          yield* countMutation(known ? mutation.entity : "unknown", known ? mutation.op : "unknown", result.status)
          results.push(result)
        }
        const lastMutationId = yield* clients.lastMutationId(request.clientId)
        return PushResponse.make({ lastMutationId, results })
      }).pipe(Effect.withSpan("Sync.push", { attributes: { clientId: request.clientId, mutations: request.mutations.length } }))

    /** What changed for the device since its checkpoint (everything, on a reset), and a new checkpoint. */
    const pull = (actor: SyncActor, request: { readonly clientId: SyncClientId; readonly checkpoint?: string | undefined }) =>
      Effect.gen(function*() {
        // The token is checked before anything is read or registered.
        const presented = request.checkpoint === undefined
          ? Option.none<number>()
          : Option.some(yield* checkpoints.verify(request.checkpoint, request.clientId))
        yield* clients.touch(actor.id, request.clientId, "pull")
        // Read first: the data read below reflects at least every mutation up to it.
        const lastMutationId = yield* clients.lastMutationId(request.clientId)
        const stored = Option.isNone(presented)
          ? Option.none()
          : yield* checkpoints.load(request.clientId, presented.value)
        const reset = Option.isNone(stored)
        const since = Option.getOrUndefined(stored)

        const lessonPart = yield* lessons.changes(actor, since?.lessons)
        const notificationPart = since === undefined
          ? yield* notifications.snapshot(actor.id, resetNotifications).pipe(
            Effect.map((s) => ({ changeSeq: s.changeSeq, items: s.notifications, more: false }))
          )
          : yield* notifications.changesSince(actor.id, since.notificationsSeq, notificationChangesLimit).pipe(
            Effect.map((rows) => ({
              changeSeq: rows.at(-1)?.changeSeq ?? since.notificationsSeq,
              items: rows.map((r) => r.notification),
              more: rows.length === notificationChangesLimit
            }))
          )
        const checkpoint = yield* checkpoints.save(request.clientId, Option.filter(presented, () => !reset), {
          lessons: lessonPart.positions,
          notificationsSeq: notificationPart.changeSeq
        })
        return PullResponse.make({
          checkpoint,
          reset,
          lastMutationId,
          lessons: lessonPart.lessons,
          removedLessons: lessonPart.removed,
          notifications: notificationPart.items,
          hasMore: lessonPart.more || notificationPart.more
        })
      }).pipe(Effect.withSpan("Sync.pull", { attributes: { clientId: request.clientId } }))

    return { push, pull, devices: clients.list, revoke: clients.revoke } as const
  })
}) {}
