/**
 * The contract of a lesson room's REST companions (`/api/v1/lessons/{id}/messages`
 * and `…/board/*`): chat history, editing and deleting messages, the board
 * snapshot (JSON or gzip), imports, the timeline and deltas. Live traffic goes
 * over the WebSocket; these serve history, tools and clients catching up.
 */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import {
  ApplyResult,
  BoardFull,
  BoardOp,
  BoardOps,
  BoardOpsParams,
  BoardSnapshot,
  BoardSnapshotInvalid,
  BoardTimelineParams,
  BoardTimelinePage,
  ImportResult,
  ImportSnapshotRequest
} from "../../schemas/Board.ts"
import {
  ChatMessage,
  EditMessageRequest,
  MessageDeleted,
  MessageId,
  MessageListParams,
  MessageNotFound,
  MessagePage,
  SendMessageRequest,
  SendMessageResult
} from "../../schemas/Chat.ts"
import { InvalidCursor } from "../../schemas/Errors.ts"
import { LessonId } from "../../schemas/Ids.ts"
import { LessonNotFound } from "../../schemas/Lessons.ts"
import { RequestFields } from "../../schemas/Request.ts"
import { Authentication } from "../Authentication.ts"
import { httpError } from "../HttpErrors.ts"
import { ids, withExamples } from "./Examples.ts"

const LessonIdPath = HttpApiSchema.param("id", LessonId)
const MessageIdPath = HttpApiSchema.param("messageId", MessageId)

const notFound = httpError(LessonNotFound, "LESSON_NOT_FOUND")
const messageNotFound = httpError(MessageNotFound, "MESSAGE_NOT_FOUND")
const boardFull = httpError(BoardFull, "BOARD_FULL")

/** Query of `GET …/board/snapshot`. */
export const SnapshotParams = RequestFields({
  format: Schema.optional(Schema.Literal("json", "gzip")).annotations({
    description: "json (default) or gzip: the same document gzip-compressed, as an application/gzip download"
  })
})

const members = "Open to the lesson's tutor, its students and admins; anyone else gets 404 LESSON_NOT_FOUND " +
  "(never 403), so lesson ids cannot be probed."

const messageExample = {
  id: "3b6f0c2e-9d41-4a57-8e2b-7c1d0f9a4e35",
  lessonId: ids.lesson,
  authorId: ids.student,
  authorName: "Grace Hopper",
  body: "Can you explain step 3 again?",
  clientMessageId: "c-7f3a9e",
  createdAt: "2026-06-01T15:04:12.345Z",
  editedAt: null,
  deletedAt: null,
  seq: 42
}
const elementExample = {
  id: "el-4f9c2a",
  props: { type: "rect", x: 10, y: 20, w: 120, h: 80, stroke: "#1d4ed8" },
  version: 57,
  updatedBy: ids.tutor,
  updatedAt: "2026-06-01T15:06:40.120Z"
}
const opExample = {
  version: 57,
  kind: "update",
  elementId: "el-4f9c2a",
  props: { x: 10, y: 20 },
  authorId: ids.tutor,
  authorName: "Ada Lovelace",
  clientOpId: "op-19",
  at: "2026-06-01T15:06:40.120Z"
}

/** A lesson room's chat history and whiteboard over REST. */
export class RoomApi extends HttpApiGroup.make("room")
  .add(
    HttpApiEndpoint.get("messages")`/${LessonIdPath}/messages`
      .setUrlParams(MessageListParams)
      .addSuccess(MessagePage)
      .addError(notFound)
      .addError(httpError(InvalidCursor, "INVALID_CURSOR"))
      .annotate(OpenApi.Summary, "The lesson's chat history, newest first, with cursor pagination")
      .annotate(
        OpenApi.Description,
        `${members} Each message carries its author's display name and \`seq\`, the room sequence number of ` +
          "its creation (the order of the page). Deleted messages stay as tombstones (`body: null`, " +
          "`deletedAt` set) so history agrees with what live clients saw. Pass `nextCursor` as `cursor` for " +
          "the next, older page (null on the last). `limit` is 1–200, default 50."
      )
      .annotate(OpenApi.Transform, withExamples({ responses: { 200: { items: [messageExample], nextCursor: null } } }))
  )
  .add(
    HttpApiEndpoint.post("sendMessage")`/${LessonIdPath}/messages`
      .setPayload(SendMessageRequest)
      .addSuccess(SendMessageResult, { status: 201 })
      .addError(notFound)
      .annotate(OpenApi.Summary, "Post a chat message (idempotent with clientMessageId)")
      .annotate(
        OpenApi.Description,
        `${members} The same as the WebSocket chat command: the message is stored, numbered with the room's next ` +
          "seq and delivered live to the room as a `chat.created` event. The body is trimmed, 1–4000 characters. " +
          "With a `clientMessageId` (1–64 of A–Z a–z 0–9 _ . : -) a retry returns the stored message with " +
          "`duplicate: true` and sends nothing again."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({
          request: { body: messageExample.body, clientMessageId: messageExample.clientMessageId },
          responses: { 201: { message: messageExample, duplicate: false } }
        })
      )
  )
  .add(
    HttpApiEndpoint.patch("editMessage")`/${LessonIdPath}/messages/${MessageIdPath}`
      .setPayload(EditMessageRequest)
      .addSuccess(ChatMessage)
      .addError(notFound)
      .addError(messageNotFound)
      .addError(httpError(MessageDeleted, "MESSAGE_DELETED"))
      .annotate(OpenApi.Summary, "Edit a chat message (its author, the lesson's tutor or an admin)")
      .annotate(
        OpenApi.Description,
        `${members} Another student gets 403 FORBIDDEN. The body is trimmed, 1–4000 characters. The edit is ` +
          "delivered live to the room as a `chat.edited` event; the same body again changes nothing. A deleted " +
          "message cannot be edited (409 MESSAGE_DELETED)."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({
          request: { body: "Can you explain step 4 again?" },
          responses: {
            200: { ...messageExample, body: "Can you explain step 4 again?", editedAt: "2026-06-01T15:05:00.000Z" }
          }
        })
      )
  )
  .add(
    HttpApiEndpoint.del("deleteMessage")`/${LessonIdPath}/messages/${MessageIdPath}`
      .addSuccess(ChatMessage)
      .addError(notFound)
      .addError(messageNotFound)
      .annotate(OpenApi.Summary, "Delete a chat message (its author, the lesson's tutor or an admin)")
      .annotate(
        OpenApi.Description,
        `${members} Another student gets 403 FORBIDDEN. The message becomes a tombstone (body null), returned; ` +
          "the room receives a `chat.deleted` event. Deleting it again returns the tombstone (idempotent)."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({ responses: { 200: { ...messageExample, body: null, deletedAt: "2026-06-01T15:05:30.000Z" } } })
      )
  )
  .add(
    HttpApiEndpoint.get("boardSnapshot")`/${LessonIdPath}/board/snapshot`
      .setUrlParams(SnapshotParams)
      .addSuccess(BoardSnapshot)
      .addError(notFound)
      .annotate(OpenApi.Summary, "The whole board: every live element at a room position (JSON, or gzip)")
      .annotate(
        OpenApi.Description,
        `${members} \`version\` is the room seq the snapshot is consistent with: subscribe to the room with ` +
          "that position (or fetch `board/ops?sinceVersion=`) to stay current. With `format=gzip` the same " +
          "document is returned gzip-compressed as `application/gzip` (a download, `Content-Disposition: " +
          "attachment`), served from the materialized snapshot; it is an explicit format rather than " +
          "`Content-Encoding`, so proxies and clients never decompress or re-compress it behind your back."
      )
      .annotate(
        OpenApi.Transform,
        (operation: Record<string, unknown>) => {
          const withExample = withExamples({ responses: { 200: { lessonId: ids.lesson, version: 63, elements: [elementExample] } } })(
            operation
          )
          const responses = withExample.responses as Record<string, { content?: Record<string, unknown> }>
          const ok = responses["200"]
          if (ok?.content !== undefined) {
            ok.content["application/gzip"] = { schema: { type: "string", format: "binary" } }
          }
          return withExample
        }
      )
  )
  .add(
    HttpApiEndpoint.post("importSnapshot")`/${LessonIdPath}/board/snapshot`
      .setPayload(ImportSnapshotRequest)
      .addSuccess(ImportResult)
      .addError(notFound)
      .addError(httpError(BoardSnapshotInvalid, "BOARD_SNAPSHOT_INVALID"))
      .addError(boardFull)
      .annotate(OpenApi.Summary, "Import a board snapshot: replace the board, or merge it last-writer-wins")
      .annotate(
        OpenApi.Description,
        `Only the lesson's tutor or an admin (students get 403 FORBIDDEN). ${members} ` +
          "`replace` makes the board exactly the imported elements (others are deleted); `merge` writes each " +
          "imported element unless the server's copy changed after the element's `version` (from the exported " +
          "snapshot; an element without one always wins). Up to 5000 elements with unique ids (duplicates: " +
          "400 BOARD_SNAPSHOT_INVALID naming them), props up to 16 KiB each; a merge that would take the board past " +
          "10 000 live elements is refused (409 BOARD_FULL). The import is one room event " +
          "(`board.imported`) with one seq, the version of every element it wrote; live clients and deltas " +
          "across it reload the snapshot."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({
          request: { strategy: "merge", elements: [{ id: "el-4f9c2a", props: elementExample.props, version: 57 }] },
          responses: { 200: { version: 64, written: 1, removed: 0, kept: 0 } }
        })
      )
  )
  .add(
    HttpApiEndpoint.post("applyOp")`/${LessonIdPath}/board/ops`
      .setPayload(BoardOp)
      .addSuccess(ApplyResult)
      .addError(notFound)
      .addError(boardFull)
      .annotate(OpenApi.Summary, "Apply one board op (add, update or delete an element), last writer wins")
      .annotate(
        OpenApi.Description,
        `${members} The same as the WebSocket board command. \`outcome\` is \`applied\` (version = the op's room ` +
          "seq, delivered live as a `board.op` event), `duplicate` (this author already sent this `clientOpId`; " +
          "version of the first application) or `conflict` (nothing written; the server's element and version are " +
          "returned): an add of an existing id, an update or delete of a missing or deleted element, or a " +
          "`baseVersion` older than a change by someone else. `update` merges `props` (null removes a key); props " +
          "are a JSON object of at most 16 KiB. A board holds at most 10 000 live elements (409 BOARD_FULL)."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({
          request: { kind: "update", elementId: "el-4f9c2a", props: { x: 10, y: 20 }, clientOpId: "op-19", baseVersion: 55 },
          responses: { 200: { outcome: "applied", version: 57, element: elementExample } }
        })
      )
  )
  .add(
    HttpApiEndpoint.get("boardTimeline")`/${LessonIdPath}/board/timeline`
      .setUrlParams(BoardTimelineParams)
      .addSuccess(BoardTimelinePage)
      .addError(notFound)
      .addError(httpError(InvalidCursor, "INVALID_CURSOR"))
      .annotate(OpenApi.Summary, "Who changed what on the board, newest first, with cursor pagination")
      .annotate(
        OpenApi.Description,
        `${members} Every applied op (add, update with its patch, delete) and every import (kind \`import\`, ` +
          "element `*`, its strategy and counts as props), with its version (room seq), author and time. " +
          "Conflicting and duplicate ops are not stored. `limit` is 1–200, default 50."
      )
      .annotate(OpenApi.Transform, withExamples({ responses: { 200: { items: [opExample], nextCursor: null } } }))
  )
  .add(
    HttpApiEndpoint.get("boardOps")`/${LessonIdPath}/board/ops`
      .setUrlParams(BoardOpsParams)
      .addSuccess(BoardOps)
      .addError(notFound)
      .annotate(OpenApi.Summary, "Board ops since a version, oldest first (delta sync)")
      .annotate(
        OpenApi.Description,
        `${members} Returns at most \`limit\` (1–200, default 50) ops with version > \`sinceVersion\`; call ` +
          "again with `nextSinceVersion` while `hasMore`. When a snapshot import lies in that range (or " +
          "`sinceVersion` is ahead of the room), `snapshotRequired` is true and `ops` is empty: reload " +
          "`board/snapshot` instead."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({ responses: { 200: { ops: [opExample], nextSinceVersion: 63, hasMore: false, snapshotRequired: false } } })
      )
  )
  .middleware(Authentication)
  .prefix("/api/v1/lessons")
  .annotate(OpenApi.Title, "Lesson rooms")
  .annotate(
    OpenApi.Description,
    "Chat history and the whiteboard of a lesson over REST; live traffic uses the WebSocket (docs/realtime-data.md)."
  )
{}
