/**
 * Notifications: `notify` stores the in-app record, queues web push (in the same
 * transaction) and then publishes it live to the user's `user:<id>` channel with
 * the new unread count, all as the user's preferences allow. Also the inbox:
 * listing, the unread count (cached per process, invalidated across processes
 * over the Bus on every change), marking read.
 */
import { SqlClient } from "@effect/sql"
import { Cache, Duration, Effect, Exit, Option, Schema, Stream } from "effect"
import { Bus } from "../layers/Bus.ts"
import { storeCall } from "../layers/SqlErrors.ts"
import { UserId } from "../schemas/Ids.ts"
import {
  Notification,
  NotificationData,
  NotificationId,
  NotificationNotFound,
  NotificationType,
  pushDelivery
} from "../schemas/Notifications.ts"
import { decodeCursor, encodeCursor, exactTimestamp } from "./Cursor.ts"
import { NotificationPreferences } from "./NotificationPreferences.ts"
import { UserEvents } from "./UserEvents.ts"
import { WebPush } from "./WebPush.ts"

/** What to tell users. */
export interface NotifyInput {
  readonly type: NotificationType
  readonly title: string
  readonly body?: string | undefined
  readonly data?: Readonly<Record<string, unknown>> | undefined
  /** Web push messages with the same key replace each other while undelivered (kinds that collapse). */
  readonly collapseKey?: string | undefined
}

const Row = Schema.Struct({
  id: NotificationId,
  userId: UserId,
  type: NotificationType,
  title: Schema.String,
  body: Schema.String,
  data: NotificationData,
  createdAt: Schema.DateTimeUtcFromDate,
  readAt: Schema.NullOr(Schema.DateTimeUtcFromDate)
})
type Row = typeof Row.Type
const ListRow = Schema.Struct({ ...Row.fields, cursorAt: Schema.String })
const ChangeRow = Schema.Struct({ ...Row.fields, changeSeq: Schema.NumberFromString })
const NotificationCursor = Schema.Struct({ createdAt: Schema.String, id: NotificationId })

const toNotification = ({ userId: _, ...row }: Row) => Notification.make(row)
const encodeNotification = Schema.encode(Notification)

/** Bus channel on which processes tell each other a user's unread count changed. */
const unreadChannel = "notifications:unread"

/** Notifications. */
export class Notifications extends Effect.Service<Notifications>()("lectern/Notifications", {
  scoped: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const bus = yield* Bus
    const events = yield* UserEvents
    const preferences = yield* NotificationPreferences
    const push = yield* WebPush
    const decodeRows = Schema.decodeUnknown(Schema.Array(Row))
    const cols = sql.literal("id, user_id, type, title, body, data, created_at, read_at")

    const countUnread = (userId: UserId) =>
      sql<{ readonly n: number }>`
        SELECT count(*)::int AS n FROM notifications WHERE user_id = ${userId} AND read_at IS NULL`.pipe(
        Effect.map((rows) => rows[0]?.n ?? 0),
        storeCall
      )
    const unread = yield* Cache.makeWith({
      capacity: 10_000,
      lookup: countUnread,
      timeToLive: (exit) => (Exit.isSuccess(exit) ? Duration.minutes(1) : Duration.zero)
    })
    // Another process changed someone's count: drop our copy.
    const changes = yield* bus.subscribe(unreadChannel)
    yield* Stream.fromQueue(changes).pipe(
      Stream.map((bytes) => new TextDecoder().decode(bytes)),
      Stream.runForEach((id) => Option.match(Schema.decodeUnknownOption(UserId)(id), {
        onNone: () => Effect.void,
        onSome: (userId) => unread.invalidate(userId)
      })),
      Effect.forkScoped
    )

    // Live delivery is best effort: the record is committed and clients catch up on reconnect.
    const live = <E>(what: string, effect: Effect.Effect<void, E>) =>
      Effect.catchAllCause(effect, (cause) => Effect.logWarning(`live ${what} not published`, cause))

    /** Re-reads the user's unread count and tells every process and the user's clients. */
    const unreadChanged = (userId: UserId) =>
      Effect.gen(function*() {
        yield* unread.invalidate(userId)
        yield* live("unread invalidation", bus.publish(unreadChannel, new TextEncoder().encode(userId)))
        const count = yield* unread.get(userId)
        yield* live("unread count", events.publish(userId, "notifications.unread", { count }))
      })

    /**
     * Notifies each of `userIds` as their preferences allow: an in-app record
     * (published live with the new unread count) and web push to their devices.
     * Returns the in-app records created.
     */
    const notifyMany = (userIds: ReadonlyArray<UserId>, input: NotifyInput) =>
      Effect.gen(function*() {
        // Sorted: each row takes its user's change counter lock (migration 0008), so every
        // batch must lock users in the same order or two batches could deadlock.
        const unique = [...new Set(userIds)].sort()
        const channels = yield* preferences.channelsFor(unique, input.type)
        const inApp = unique.filter((id) => channels.get(id)?.inApp ?? true)
        const data = input.data ?? {}
        const created = yield* Effect.gen(function*() {
          const rows = inApp.length === 0 ? [] : yield* sql`
            INSERT INTO notifications ${
            sql.insert(inApp.map((userId) => ({
              userId,
              type: input.type,
              title: input.title,
              body: input.body ?? "",
              data: JSON.stringify(data)
            })))
          }
            RETURNING ${cols}`.pipe(Effect.flatMap(decodeRows))
          for (const userId of unique.filter((id) => channels.get(id)?.push ?? true)) {
            const record = rows.find((r) => r.userId === userId)
            yield* push.enqueue([userId], {
              type: input.type,
              title: input.title,
              body: input.body ?? "",
              data,
              notificationId: record?.id,
              collapseKey: input.collapseKey
            }, pushDelivery[input.type])
          }
          return rows
        }).pipe(sql.withTransaction, storeCall)
        for (const row of created) {
          const wire = yield* Effect.orDie(encodeNotification(toNotification(row)))
          yield* live("notification", events.publish(row.userId, "notification.created", wire))
          yield* unreadChanged(row.userId)
        }
        return created.map(toNotification)
      }).pipe(Effect.withSpan("Notifications.notify", { attributes: { "notification.type": input.type } }))

    /** Notifies one user; the in-app record, unless they turned that kind off. */
    const notify = (userId: UserId, input: NotifyInput) =>
      Effect.map(notifyMany([userId], input), (created) => Option.fromNullable(created[0]))

    /** The user's notifications, newest first. */
    const list = (userId: UserId, options: { readonly unreadOnly: boolean; readonly cursor?: string | undefined; readonly limit: number }) =>
      Effect.gen(function*() {
        const after = options.cursor === undefined
          ? Option.none()
          : Option.some(yield* decodeCursor(NotificationCursor, options.cursor))
        const rows = yield* sql`
          SELECT ${cols}, ${exactTimestamp(sql, "created_at")} AS cursor_at FROM notifications
          WHERE ${
          sql.and([
            sql`user_id = ${userId}`,
            ...(options.unreadOnly ? [sql`read_at IS NULL`] : []),
            ...Option.match(after, {
              onNone: () => [],
              onSome: (c) => [sql`(created_at, id) < (${c.createdAt}::timestamptz, ${c.id}::uuid)`]
            })
          ])
        }
          ORDER BY created_at DESC, id DESC LIMIT ${options.limit + 1}`.pipe(
          Effect.flatMap(Schema.decodeUnknown(Schema.Array(ListRow)))
        )
        const page = rows.slice(0, options.limit)
        const last = page.at(-1)
        return {
          items: page.map(({ cursorAt: _, ...row }) => toNotification(row)),
          nextCursor: rows.length > options.limit && last !== undefined
            ? encodeCursor(NotificationCursor, { createdAt: last.cursorAt, id: last.id })
            : null
        }
      }).pipe(storeCall, Effect.withSpan("Notifications.list"))

    /** How many of the user's notifications are unread (cached). */
    const unreadCount = (userId: UserId) => unread.get(userId)

    /**
     * Marks one of the user's notifications read on the caller's connection (so
     * inside its transaction, if any); `changed` says it was unread. The caller
     * announces the new unread count with `announceUnread` after commit.
     */
    const markReadIn = (userId: UserId, id: NotificationId) =>
      Effect.gen(function*() {
        const updated = yield* sql`
          UPDATE notifications SET read_at = now() WHERE id = ${id} AND user_id = ${userId} AND read_at IS NULL
          RETURNING ${cols}`.pipe(Effect.flatMap(decodeRows), storeCall)
        const row = updated[0]
        if (row !== undefined) return { notification: toNotification(row), changed: true }
        const existing = yield* sql`SELECT ${cols} FROM notifications WHERE id = ${id} AND user_id = ${userId}`.pipe(
          Effect.flatMap(decodeRows),
          storeCall
        )
        const found = existing[0]
        if (found === undefined) return yield* new NotificationNotFound({ notificationId: id })
        return { notification: toNotification(found), changed: false }
      })

    /** Tells every process and the user's clients that the user's unread count changed. */
    const announceUnread = (userId: UserId) => unreadChanged(userId)

    /** Marks one of the user's notifications read (idempotent). */
    const markRead = (userId: UserId, id: NotificationId) =>
      Effect.gen(function*() {
        const { changed, notification } = yield* markReadIn(userId, id)
        if (changed) yield* unreadChanged(userId)
        return notification
      }).pipe(Effect.withSpan("Notifications.markRead"))

    /**
     * The user's notifications changed (created or updated) after change number
     * `afterSeq`, in change order, with their change numbers (migration 0008).
     */
    const changesSince = (userId: UserId, afterSeq: number, limit: number) =>
      sql`
        SELECT ${cols}, change_seq::text AS change_seq FROM notifications
        WHERE user_id = ${userId} AND change_seq > ${afterSeq}
        ORDER BY change_seq LIMIT ${limit}`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(ChangeRow))),
        Effect.map((rows) => rows.map(({ changeSeq, ...row }) => ({ changeSeq, notification: toNotification(row) }))),
        storeCall
      )

    /** The user's newest notifications and the change number they are current to. */
    const snapshot = (userId: UserId, limit: number) =>
      Effect.gen(function*() {
        // The counter first: a change committed after it is above it and comes with the next `changesSince`.
        const head = yield* sql`SELECT seq::text AS seq FROM notification_heads WHERE user_id = ${userId}`.pipe(
          Effect.flatMap(Schema.decodeUnknown(Schema.Array(Schema.Struct({ seq: Schema.NumberFromString })))),
          Effect.map((rows) => rows[0]?.seq ?? 0)
        )
        const rows = yield* sql`
          SELECT ${cols} FROM notifications WHERE user_id = ${userId}
          ORDER BY created_at DESC, id DESC LIMIT ${limit}`.pipe(Effect.flatMap(decodeRows))
        return { changeSeq: head, notifications: rows.map(toNotification) }
      }).pipe(storeCall)

    /** Marks all of the user's notifications read; returns how many were unread. */
    const markAllRead = (userId: UserId) =>
      Effect.gen(function*() {
        const rows = yield* sql`
          UPDATE notifications SET read_at = now() WHERE user_id = ${userId} AND read_at IS NULL RETURNING id`.pipe(
          storeCall
        )
        if (rows.length > 0) yield* unreadChanged(userId)
        return rows.length
      }).pipe(Effect.withSpan("Notifications.markAllRead"))

    return {
      notify,
      notifyMany,
      list,
      unreadCount,
      markRead,
      markReadIn,
      announceUnread,
      markAllRead,
      changesSince,
      snapshot
    } as const
  })
}) {}

