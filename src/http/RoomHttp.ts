/** Handlers for a lesson room's REST companions; the policy lives in `Chat`, `Board` and `LessonAccess`. */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { Board } from "../services/Board.ts"
import { Chat } from "../services/Chat.ts"
import { Api } from "./Api.ts"
import { CurrentUser } from "./Authentication.ts"

/** `/api/v1/lessons/{id}/messages*` and `/api/v1/lessons/{id}/board/*`. */
export const RoomHttpLive = HttpApiBuilder.group(Api, "room", (handlers) =>
  Effect.gen(function*() {
    const chat = yield* Chat
    const board = yield* Board
    return handlers
      .handle("messages", ({ path, urlParams }) => Effect.flatMap(CurrentUser, (me) => chat.history(me, path.id, urlParams)))
      .handle("sendMessage", ({ path, payload }) => Effect.flatMap(CurrentUser, (me) => chat.send(me, path.id, payload)))
      .handle("editMessage", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (me) => chat.edit(me, path.id, path.messageId, payload)))
      .handle("deleteMessage", ({ path }) => Effect.flatMap(CurrentUser, (me) => chat.remove(me, path.id, path.messageId)))
      .handle("boardSnapshot", ({ path, urlParams }) =>
        Effect.gen(function*() {
          const me = yield* CurrentUser
          if (urlParams.format !== "gzip") return yield* board.snapshot(me, path.id)
          const { version, gzip } = yield* board.exportCompressed(me, path.id)
          return HttpServerResponse.uint8Array(gzip, {
            contentType: "application/gzip",
            headers: { "content-disposition": `attachment; filename="board-${path.id}-v${version}.json.gz"` }
          })
        }))
      .handle("importSnapshot", ({ path, payload }) => Effect.flatMap(CurrentUser, (me) => board.importSnapshot(me, path.id, payload)))
      .handle("applyOp", ({ path, payload }) => Effect.flatMap(CurrentUser, (me) => board.apply(me, path.id, payload)))
      .handle("boardTimeline", ({ path, urlParams }) => Effect.flatMap(CurrentUser, (me) => board.timeline(me, path.id, urlParams)))
      .handle("boardOps", ({ path, urlParams }) =>
        Effect.flatMap(CurrentUser, (me) => board.opsSince(me, path.id, urlParams.sinceVersion, urlParams.limit)))
  }))
