/**
 * Notifications on the wire: the in-app record, the kinds of notification
 * (with how each is delivered as web push: TTL, urgency, topic), per-user
 * preferences per kind and channel, list filters and errors.
 */
import { Schema } from "effect"
import { Cursor, Limit, Page } from "./Pagination.ts"
import { RequestFields } from "./Request.ts"

/** A notification's id. */
export const NotificationId = Schema.String.pipe(
  Schema.pattern(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, { message: () => "expected a UUID" }),
  Schema.brand("NotificationId")
).annotations({ identifier: "NotificationId" })
/** @see NotificationId */
export type NotificationId = typeof NotificationId.Type

/** What a notification is about. */
export const NotificationType = Schema.Literal(
  "lesson.reminder",
  "lesson.scheduled",
  "lesson.updated",
  "lesson.cancelled",
  "homework.assigned",
  "chat.message",
  "system"
).annotations({ identifier: "NotificationType" })
/** @see NotificationType */
export type NotificationType = typeof NotificationType.Type

/** Web push urgency (RFC 8030 §5.3). */
export type PushUrgency = "very-low" | "low" | "normal" | "high"

/** How one kind of notification travels as web push. */
export interface PushDelivery {
  /** How long the push service may hold it for an offline device, in seconds. */
  readonly ttlSeconds: number
  readonly urgency: PushUrgency
  /** Whether a newer one with the same collapse key replaces an undelivered older one (the `Topic` header). */
  readonly collapse: boolean
}

/** Delivery per kind: a reminder is worthless after the lesson starts; homework can wait a week. */
export const pushDelivery: Readonly<Record<NotificationType, PushDelivery>> = {
  "lesson.reminder": { ttlSeconds: 15 * 60, urgency: "high", collapse: true },
  "lesson.scheduled": { ttlSeconds: 24 * 3600, urgency: "normal", collapse: false },
  "lesson.updated": { ttlSeconds: 24 * 3600, urgency: "normal", collapse: true },
  "lesson.cancelled": { ttlSeconds: 24 * 3600, urgency: "high", collapse: true },
  "homework.assigned": { ttlSeconds: 7 * 24 * 3600, urgency: "normal", collapse: false },
  "chat.message": { ttlSeconds: 3600, urgency: "normal", collapse: true },
  "system": { ttlSeconds: 24 * 3600, urgency: "low", collapse: false }
}

/** Free-form data attached to a notification (e.g. the lesson id a client links to). */
export const NotificationData = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** An in-app notification. */
export class Notification extends Schema.Class<Notification>("Notification")({
  id: NotificationId,
  type: NotificationType,
  title: Schema.String,
  body: Schema.String,
  data: NotificationData,
  createdAt: Schema.DateTimeUtc,
  /** null while unread */
  readAt: Schema.NullOr(Schema.DateTimeUtc)
}) {}

/** A page of notifications, newest first. */
export const NotificationPage = Page(Notification).annotations({ identifier: "NotificationPage" })

/** Filters of `GET /notifications`. */
export const NotificationListParams = RequestFields({
  unread: Schema.optional(Schema.BooleanFromString).annotations({ description: "true: only unread ones" }),
  cursor: Schema.optional(Cursor),
  limit: Schema.optional(Limit)
})

/** `GET /notifications/unread-count` (also the data of the live `notifications.unread` event). */
export class UnreadCount extends Schema.Class<UnreadCount>("UnreadCount")({ count: Schema.Number }) {}

/** `POST /notifications/read-all`. */
export class ReadAllResult extends Schema.Class<ReadAllResult>("ReadAllResult")({
  /** How many were unread and are now read. */
  marked: Schema.Number
}) {}

/** Whether a kind of notification is wanted in the app and as web push. */
export class NotificationPreference extends Schema.Class<NotificationPreference>("NotificationPreference")({
  type: NotificationType,
  inApp: Schema.Boolean,
  push: Schema.Boolean
}) {}

/** Every kind with the caller's choices (unset ones are on). */
export class NotificationPreferences extends Schema.Class<NotificationPreferences>("NotificationPreferences")({
  items: Schema.Array(NotificationPreference)
}) {}

const PreferenceChange = RequestFields({
  type: NotificationType,
  inApp: Schema.optional(Schema.Boolean),
  push: Schema.optional(Schema.Boolean)
})

/** Change some preferences; kinds and channels not named keep their value. */
export class UpdateNotificationPreferencesRequest
  extends Schema.Class<UpdateNotificationPreferencesRequest>("UpdateNotificationPreferencesRequest")(RequestFields({
    items: Schema.Array(PreferenceChange).pipe(
      Schema.minItems(1, { message: () => "at least one preference" }),
      Schema.maxItems(50, { message: () => "at most 50 preferences" })
    )
  }))
{}

/** No notification with this id belongs to the caller. */
export class NotificationNotFound extends Schema.TaggedError<NotificationNotFound>()("NotificationNotFound", {
  notificationId: Schema.optional(Schema.String)
}) {
  readonly code = "NOTIFICATION_NOT_FOUND" as const
  override get message() {
    return "No notification with this id is yours"
  }
}
