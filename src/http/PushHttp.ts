/** Handlers for web push registration and the test push. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { VapidKeys } from "../layers/VapidKeys.ts"
import { PushSubscriptionList, PushTestResult, VapidPublicKey } from "../schemas/Push.ts"
import { PushSubscriptions } from "../services/PushSubscriptions.ts"
import { WebPush } from "../services/WebPush.ts"
import { Api } from "./Api.ts"
import { CurrentUser } from "./Authentication.ts"

/** `/api/v1/push/*`. */
export const PushHttpLive = HttpApiBuilder.group(Api, "push", (handlers) =>
  Effect.gen(function*() {
    const keys = yield* VapidKeys
    const subscriptions = yield* PushSubscriptions
    const push = yield* WebPush
    return handlers
      .handle("vapidPublicKey", () => Effect.succeed(VapidPublicKey.make({ publicKey: keys.publicKey })))
      .handle("register", ({ payload }) => Effect.flatMap(CurrentUser, (me) => subscriptions.register(me.id, payload)))
      .handle("list", () =>
        Effect.flatMap(CurrentUser, (me) =>
          Effect.map(subscriptions.list(me.id), (items) => PushSubscriptionList.make({ items }))))
      .handle("unregister", ({ path }) => Effect.flatMap(CurrentUser, (me) => subscriptions.remove(me.id, path.id)))
      .handle("test", () =>
        Effect.flatMap(CurrentUser, (me) => Effect.map(push.test(me.id), (queued) => PushTestResult.make({ queued }))))
  }))
