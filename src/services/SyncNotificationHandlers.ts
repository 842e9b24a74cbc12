/**
 * Sync mutations on notifications: `notification/read` marks one of the caller's
 * notifications read in the push's transaction; the unread count is announced
 * live (on `user:<id>`) after commit.
 */
import { Effect, Schema } from "effect"
import { NotificationId } from "../schemas/Notifications.ts"
import type { Notifications } from "./Notifications.ts"
import { applied, type MutationHandler, mutationHandler } from "./SyncMutation.ts"

/** The handlers of the `notification` entity. */
export const notificationHandlers = (notifications: Notifications): ReadonlyArray<MutationHandler> => [
  mutationHandler(
    "notification",
    "read",
    Schema.Struct({ notificationId: NotificationId }),
    (actor, args) =>
      Effect.map(notifications.markReadIn(actor.id, args.notificationId), ({ changed, notification }) =>
        changed
          ? applied({ result: { notificationId: notification.id } }, notifications.announceUnread(actor.id))
          : ({ status: "duplicate" } as const))
  )
]
