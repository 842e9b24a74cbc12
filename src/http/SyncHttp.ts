/** Handlers of offline sync (`/api/v1/sync/*`). */
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option } from "effect"
import { SyncDevices } from "../schemas/Sync.ts"
import { Sync } from "../services/Sync.ts"
import { Api } from "./Api.ts"
import { CurrentUser } from "./Authentication.ts"

/** `/api/v1/sync/*`. */
export const SyncHttpLive = HttpApiBuilder.group(Api, "sync", (handlers) =>
  Effect.gen(function*() {
    const sync = yield* Sync
    return handlers
      .handle("push", ({ payload }) => Effect.flatMap(CurrentUser, (me) => sync.push(me, payload)))
      .handle("pull", ({ urlParams }) => Effect.flatMap(CurrentUser, (me) => sync.pull(me, urlParams)))
      .handle("devices", ({ urlParams }) =>
        Effect.flatMap(CurrentUser, (me) =>
          Effect.map(sync.devices(me, Option.fromNullable(urlParams.userId)), (items) => SyncDevices.make({ items }))))
      .handle("revoke", ({ path }) => Effect.flatMap(CurrentUser, (me) => sync.revoke(me, path.clientId)))
  }))
