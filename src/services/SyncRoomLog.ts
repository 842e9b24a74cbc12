/**
 * Holding room events until a sync mutation commits. Chat and Board publish their
 * room event right after their own transaction; inside a push that transaction is
 * a savepoint of the mutation's transaction (which also records the mutation id),
 * so publishing then would announce an event that could still roll back. The sync
 * handlers use Chat and Board built over `layerHolding`, whose `publish` parks the
 * events of `holdPublications` so the handler publishes them after commit.
 */
import { Effect, FiberRef, Layer, Option } from "effect"
import type { RoomEvent } from "../schemas/Room.ts"
import { RoomLog } from "./RoomLog.ts"

/** Where held events go while a mutation runs (none outside sync mutations). */
const held = FiberRef.unsafeMake<Option.Option<Array<RoomEvent>>>(Option.none())

/** The real RoomLog, except that `publish` inside `holdPublications` is held rather than sent. */
export const layerHolding = Layer.effect(
  RoomLog,
  Effect.map(RoomLog, (log) =>
    RoomLog.make({
      ...log,
      publish: (event) =>
        Effect.flatMap(FiberRef.get(held), (buffer) =>
          Option.match(buffer, {
            onNone: () => log.publish(event),
            onSome: (events) => Effect.sync(() => void events.push(event))
          }))
    }))
)

/** Runs `effect` with room event publication held; returns its value and the events it published. */
export const holdPublications = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const events: Array<RoomEvent> = []
    return Effect.map(Effect.locally(effect, held, Option.some(events)), (value) => ({ value, events }))
  })
