/** Handlers for the caller's notifications and preferences. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { ReadAllResult, UnreadCount } from "../schemas/Notifications.ts"
import { NotificationPreferences } from "../services/NotificationPreferences.ts"
import { Notifications } from "../services/Notifications.ts"
import { Api } from "./Api.ts"
import { CurrentUser } from "./Authentication.ts"

/** `/api/v1/notifications/*`. */
export const NotificationsHttpLive = HttpApiBuilder.group(Api, "notifications", (handlers) =>
  Effect.gen(function*() {
    const notifications = yield* Notifications
    const preferences = yield* NotificationPreferences
    return handlers
      .handle("list", ({ urlParams }) =>
        Effect.flatMap(CurrentUser, (me) =>
          notifications.list(me.id, {
            unreadOnly: urlParams.unread ?? false,
            cursor: urlParams.cursor,
            limit: urlParams.limit ?? 50
          })))
      .handle("unreadCount", () =>
        Effect.flatMap(CurrentUser, (me) => Effect.map(notifications.unreadCount(me.id), (count) => UnreadCount.make({ count }))))
      .handle("markRead", ({ path }) => Effect.flatMap(CurrentUser, (me) => notifications.markRead(me.id, path.id)))
      .handle("markAllRead", () =>
        Effect.flatMap(CurrentUser, (me) => Effect.map(notifications.markAllRead(me.id), (marked) => ReadAllResult.make({ marked }))))
      .handle("preferences", () => Effect.flatMap(CurrentUser, (me) => preferences.get(me.id)))
      .handle("updatePreferences", ({ payload }) => Effect.flatMap(CurrentUser, (me) => preferences.update(me.id, payload)))
  }))
