/**
 * OpenAPI examples for request and response bodies, attached per endpoint with
 * `withExamples`. The example values below are valid instances of their
 * schemas (a test decodes every example of the document against its schema).
 */

type Json = Readonly<Record<string, unknown>>

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const withJsonExample = (holder: unknown, example: unknown): unknown => {
  if (!isRecord(holder) || !isRecord(holder.content)) return holder
  const json = holder.content["application/json"]
  if (!isRecord(json)) return holder
  return { ...holder, content: { ...holder.content, "application/json": { ...json, example } } }
}

/**
 * An `OpenApi.Transform` for one operation: `request` becomes the JSON request
 * body's example, `responses[status]` the example of that response.
 */
export const withExamples = (examples: { readonly request?: Json; readonly responses?: Readonly<Record<number, unknown>> }) =>
(operation: Record<string, unknown>): Record<string, unknown> => {
  const responses = isRecord(operation.responses) ? { ...operation.responses } : {}
  for (const [status, example] of Object.entries(examples.responses ?? {})) {
    responses[status] = withJsonExample(responses[status], example)
  }
  return {
    ...operation,
    ...(examples.request === undefined ? {} : { requestBody: withJsonExample(operation.requestBody, examples.request) }),
    responses
  }
}

/** Example ids and instants shared by the examples of several groups. */
export const ids = {
  admin: "0b5e7c1a-3f5d-4c47-9a64-2f4a8d1e0a01",
  tutor: "7c9e6679-7425-40de-944b-e07fc1f90ae7",
  student: "1f0d2c3b-4a59-4e68-8f7a-9b0c1d2e3f40",
  student2: "2a1e3d4c-5b6a-4f79-8a0b-1c2d3e4f5a61",
  lesson: "5d3f1e2a-8b7c-4d6e-9f0a-1b2c3d4e5f60",
  relation: "9e8d7c6b-5a49-4382-b1c0-d9e8f7a6b5c4"
} as const

const tutor = { id: ids.tutor, displayName: "Ada Lovelace" }
const student = { id: ids.student, displayName: "Grace Hopper" }
const student2 = { id: ids.student2, displayName: "Alan Turing" }

/** A relation as returned. */
export const relationExample = {
  id: ids.relation,
  tutor,
  student,
  status: "active",
  createdAt: "2026-05-04T09:30:00.000Z",
  endedAt: null
}

/** A lesson as returned. */
export const lessonExample = {
  id: ids.lesson,
  tutor,
  students: [student, student2],
  title: "Algebra: quadratic equations",
  description: "Bring last week's homework.",
  startsAt: "2026-06-01T15:00:00.000Z",
  endsAt: "2026-06-01T16:00:00.000Z",
  status: "scheduled",
  createdAt: "2026-05-20T10:00:00.000Z",
  updatedAt: "2026-05-20T10:00:00.000Z"
}

/** A feature flag as returned. */
export const flagExample = {
  name: "realtime.whiteboard-v2",
  description: "The new collaborative whiteboard",
  enabled: true,
  rolloutPercent: 25,
  rules: { userIds: [ids.student], roles: ["admin"], attributes: { is_premium: [true] } },
  owner: "platform-team@example.com",
  expiresAt: "2026-12-31T00:00:00.000Z",
  createdAt: "2026-05-01T08:00:00.000Z",
  updatedAt: "2026-05-02T08:00:00.000Z"
}
