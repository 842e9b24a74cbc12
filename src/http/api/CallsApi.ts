/** The contract of lesson calls over REST (`/api/v1/lessons/{id}/call`); signaling itself is on the `call:<id>` channel. */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import {
  CallInfo,
  CallLessonClosed,
  CallLogPage,
  CallLogParams,
  CallNotFound,
  CallSession
} from "../../schemas/Calls.ts"
import { InvalidCursor } from "../../schemas/Errors.ts"
import { LessonId } from "../../schemas/Ids.ts"
import { LessonNotFound } from "../../schemas/Lessons.ts"
import { Authentication } from "../Authentication.ts"
import { httpError } from "../HttpErrors.ts"
import { ids, withExamples } from "./Examples.ts"

const LessonIdPath = HttpApiSchema.param("id", LessonId)

const notFound = httpError(LessonNotFound, "LESSON_NOT_FOUND")
const noCall = httpError(CallNotFound, "CALL_NOT_FOUND")

const sessionId = "3c2b1a09-8f7e-4d6c-9b5a-4a3b2c1d0e9f"
const participant = (userId: string, displayName: string, role: string, joinedAt: string) => ({
  userId,
  displayName,
  role,
  grants: { audio: role !== "VIEWER", video: role !== "VIEWER", screen: role !== "VIEWER" },
  audioMuted: false,
  videoMuted: false,
  screenSharing: false,
  joinedAt
})
const sessionExample = {
  id: sessionId,
  lessonId: ids.lesson,
  status: "ACTIVE",
  createdAt: "2026-06-01T14:58:00.000Z",
  expiresAt: "2026-06-01T18:58:00.000Z",
  endedAt: null,
  endReason: null,
  participants: [
    participant(ids.tutor, "Ada Lovelace", "HOST", "2026-06-01T14:58:01.000Z"),
    participant(ids.student, "Grace Hopper", "PARTICIPANT", "2026-06-01T15:00:12.000Z")
  ]
}
const infoExample = {
  session: sessionExample,
  role: "HOST",
  iceServers: [
    { urls: ["stun:stun.example.com:3478"] },
    {
      urls: ["turn:turn.example.com:3478?transport=udp"],
      username: `1780347600:${ids.tutor}`,
      credential: "m0Zl3bWk8y1KXyX4Y2nq3aGq9tE="
    }
  ]
}

const roles = "Roles come from the lesson: its tutor is the HOST, its students PARTICIPANTs, admins VIEWERs " +
  "(receive-only). Anyone else gets 404 LESSON_NOT_FOUND."

/** Lesson calls: session state, ICE servers, start/end, the signaling log. */
export class CallsApi extends HttpApiGroup.make("calls")
  .add(
    HttpApiEndpoint.get("get")`/${LessonIdPath}/call`
      .addSuccess(CallInfo)
      .addError(notFound)
      .annotate(OpenApi.Summary, "The lesson's live call (or null), my role in it and my ICE servers")
      .annotate(
        OpenApi.Description,
        `${roles} \`iceServers\` is ready for \`new RTCPeerConnection({ iceServers })\`; with a TURN secret ` +
          "configured, TURN entries carry time-limited credentials (username `<expiry>:<userId>`, HMAC-SHA1 " +
          "credential, TURN REST API format). Join, leave and signal over the realtime channel `call:<lessonId>` " +
          "(docs/calls.md)."
      )
      .annotate(OpenApi.Transform, withExamples({ responses: { 200: infoExample } }))
  )
  .add(
    HttpApiEndpoint.post("start")`/${LessonIdPath}/call`
      .addSuccess(CallInfo)
      .addError(notFound)
      .addError(httpError(CallLessonClosed, "CALL_LESSON_CLOSED"))
      .addError(noCall)
      .annotate(OpenApi.Summary, "Start the lesson's call (host), or get the live one")
      .annotate(
        OpenApi.Description,
        "Only the lesson's tutor (403 FORBIDDEN for students and admins). A lesson has at most one live call: " +
          "starting again returns the live session. A cancelled or finished lesson has none (409 " +
          "CALL_LESSON_CLOSED). The session is WAITING until two people are in it, then ACTIVE; it ends when " +
          "the host ends it, when it has been empty for CALL_EMPTY_TIMEOUT, when it never got two people in " +
          "within CALL_IDLE_TIMEOUT, or after CALL_MAX_LIFETIME (default 4 hours)."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({
          responses: { 200: { ...infoExample, session: { ...sessionExample, status: "WAITING", participants: [] } } }
        })
      )
  )
  .add(
    HttpApiEndpoint.del("end")`/${LessonIdPath}/call`
      .addSuccess(CallSession)
      .addError(notFound)
      .addError(noCall)
      .annotate(OpenApi.Summary, "End the lesson's call for everyone (host or admin)")
      .annotate(
        OpenApi.Description,
        "Participants following `call:<lessonId>` receive `call.ended` with the reason. Students get 403 " +
          "FORBIDDEN; no live call: 404 CALL_NOT_FOUND. Returns the ended session."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({
          responses: {
            200: { ...sessionExample, status: "ENDED", endedAt: "2026-06-01T16:01:00.000Z", endReason: "host", participants: [] }
          }
        })
      )
  )
  .add(
    HttpApiEndpoint.get("log")`/${LessonIdPath}/call/log`
      .setUrlParams(CallLogParams)
      .addSuccess(CallLogPage)
      .addError(notFound)
      .addError(httpError(InvalidCursor, "INVALID_CURSOR"))
      .annotate(OpenApi.Summary, "The signaling log of the lesson's latest (or a named) call session")
      .annotate(
        OpenApi.Description,
        "Host and admins only (403 FORBIDDEN for students). Oldest first: type, from, to and time of every " +
          "signal and state change (join, leave, offer, answer, ice, mute, screen share, host actions, end); " +
          "SDP and candidates are never stored. Entries are deleted after CALL_LOG_RETENTION. Page with " +
          "`nextCursor`; `limit` 1–1000 (default 200)."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({
          responses: {
            200: {
              sessionId,
              items: [
                { seq: 1, type: "start", from: ids.tutor, to: null, at: "2026-06-01T14:58:00.000Z" },
                { seq: 2, type: "join", from: ids.tutor, to: null, at: "2026-06-01T14:58:01.000Z" },
                { seq: 3, type: "offer", from: ids.tutor, to: ids.student, at: "2026-06-01T15:00:13.000Z" }
              ],
              nextCursor: null
            }
          }
        })
      )
  )
  .middleware(Authentication)
  .prefix("/api/v1/lessons")
  .annotate(OpenApi.Title, "Calls")
  .annotate(OpenApi.Description, "WebRTC call sessions of lessons: state, ICE servers, start/end, signaling log.")
{}
