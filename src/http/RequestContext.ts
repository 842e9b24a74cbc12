/**
 * Per-request facts gathered while a request runs (the matched route, the
 * authenticated user) so the access log and the server span can carry them
 * even though they are learned deep inside the router.
 */
import { HttpApiMiddleware, HttpRouter } from "@effect/platform"
import { Context, Effect, Layer, Option } from "effect"

/** Mutable, request-scoped notes; only the request's own fiber writes them. */
export interface RequestNotes {
  route: string | undefined
  userId: string | undefined
}

/** The current request's notes (absent outside an HTTP request). */
export class RequestContext extends Context.Tag("lectern/RequestContext")<RequestContext, {
  readonly requestId: string
  readonly notes: RequestNotes
}>() {}

/** Records a fact about the current request, if there is one. */
export const noteRequest = (update: Partial<RequestNotes>) =>
  Effect.flatMap(Effect.serviceOption(RequestContext), (ctx) =>
    Effect.sync(() => {
      Option.map(ctx, ({ notes }) => Object.assign(notes, update))
    }))

/** API-wide middleware that notes the matched route template (e.g. `/api/v1/users/:id`). */
export class RouteNote extends HttpApiMiddleware.Tag<RouteNote>()("lectern/RouteNote") {}

/** Implementation of {@link RouteNote}. */
export const RouteNoteLive = Layer.succeed(
  RouteNote,
  Effect.flatMap(HttpRouter.RouteContext, (ctx) =>
    Effect.zipRight(
      noteRequest({ route: ctx.route.path }),
      Effect.annotateCurrentSpan({ "http.route": ctx.route.path })
    ))
)
