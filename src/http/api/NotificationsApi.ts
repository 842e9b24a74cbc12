/** The contract of the caller's notifications and preferences (`/api/v1/notifications/*`). */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { InvalidCursor } from "../../schemas/Errors.ts"
import {
  Notification,
  NotificationId,
  NotificationListParams,
  NotificationNotFound,
  NotificationPage,
  NotificationPreferences,
  ReadAllResult,
  UnreadCount,
  UpdateNotificationPreferencesRequest
} from "../../schemas/Notifications.ts"
import { Authentication } from "../Authentication.ts"
import { httpError } from "../HttpErrors.ts"

const NotificationIdPath = HttpApiSchema.param("id", NotificationId)

/** The caller's notifications. */
export class NotificationsApi extends HttpApiGroup.make("notifications")
  .add(
    HttpApiEndpoint.get("list", "/")
      .setUrlParams(NotificationListParams)
      .addSuccess(NotificationPage)
      .addError(httpError(InvalidCursor, "INVALID_CURSOR"))
      .annotate(OpenApi.Summary, "My notifications, newest first (unread=true: only unread ones)")
  )
  .add(
    HttpApiEndpoint.get("unreadCount", "/unread-count")
      .addSuccess(UnreadCount)
      .annotate(OpenApi.Summary, "How many of my notifications are unread")
      .annotate(
        OpenApi.Description,
        "Changes are also pushed live on the `user:<id>` channel as `notifications.unread` events."
      )
  )
  .add(
    HttpApiEndpoint.post("markRead")`/${NotificationIdPath}/read`
      .addSuccess(Notification)
      .addError(httpError(NotificationNotFound, "NOTIFICATION_NOT_FOUND"))
      .annotate(OpenApi.Summary, "Mark one notification read (idempotent)")
  )
  .add(
    HttpApiEndpoint.post("markAllRead", "/read-all")
      .addSuccess(ReadAllResult)
      .annotate(OpenApi.Summary, "Mark all my notifications read")
  )
  .add(
    HttpApiEndpoint.get("preferences", "/preferences")
      .addSuccess(NotificationPreferences)
      .annotate(OpenApi.Summary, "Which kinds of notification I get in the app and as web push")
  )
  .add(
    HttpApiEndpoint.patch("updatePreferences", "/preferences")
      .setPayload(UpdateNotificationPreferencesRequest)
      .addSuccess(NotificationPreferences)
      .annotate(OpenApi.Summary, "Turn kinds of notification on or off per channel (unnamed ones keep their value)")
  )
  .middleware(Authentication)
  .prefix("/api/v1/notifications")
  .annotate(OpenApi.Title, "Notifications")
{}
