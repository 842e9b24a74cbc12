/**
 * MessagePack encoding of realtime frames: plain msgpack (msgpackr without its
 * records extension) so any msgpack library can speak the protocol. Decoding
 * never throws: bytes that are not msgpack or not a known frame become a
 * `FrameMalformed` naming the offending fields.
 */
import { Either, ParseResult, Schema } from "effect"
import { Packr } from "msgpackr"
import { ClientFrame, type ServerFrame } from "./Frames.ts"
import { FrameMalformed } from "./RealtimeErrors.ts"

const packr = new Packr({ useRecords: false, mapsAsObjects: true })

/** Encodes one frame (server or client side). The bytes can be written to many sockets. */
export const encodeFrame = (frame: ServerFrame | ClientFrame): Uint8Array => packr.pack(frame)

/** Decodes msgpack bytes to a JS value. */
export const unpack = (bytes: Uint8Array): Either.Either<unknown, FrameMalformed> => {
  try {
    return Either.right(packr.unpack(bytes) as unknown)
  } catch {
    return Either.left(new FrameMalformed({ detail: "The frame is not valid MessagePack" }))
  }
}

const decodeClient = Schema.decodeUnknownEither(ClientFrame, { errors: "all" })

/** The offending fields of a parse error, as `path → message` (at most 10). */
export const fieldsOf = (error: ParseResult.ParseError): Record<string, string> => {
  const fields: Record<string, string> = {}
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error).slice(0, 10)) {
    const key = issue.path.length === 0 ? "frame" : issue.path.map(String).join(".")
    fields[key] ??= issue.message.slice(0, 200)
  }
  return fields
}

/** Decodes a client frame from bytes. */
export const decodeClientFrame = (bytes: Uint8Array): Either.Either<ClientFrame, FrameMalformed> =>
  Either.flatMap(unpack(bytes), (value) =>
    Either.mapLeft(decodeClient(value), (error) =>
      new FrameMalformed({ detail: describe(value), fields: fieldsOf(error) })))

const knownTypes = new Set(["connect", "refresh", "sub", "unsub", "cmd", "ping"])

const describe = (value: unknown) => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "A frame must be a map"
  const t = "t" in value ? value.t : undefined
  return typeof t === "string" && knownTypes.has(t) ? `Invalid "${t}" frame` : "Unknown frame type"
}

/** The numeric `id` of an undecodable frame, when it has one, so the error can answer it. */
export const idOf = (bytes: Uint8Array): number | undefined =>
  Either.match(unpack(bytes), {
    onLeft: () => undefined,
    onRight: (value) => {
      if (typeof value !== "object" || value === null || !("id" in value)) return undefined
      const id = value.id
      return typeof id === "number" && Number.isInteger(id) && id >= 0 && id < 2 ** 31 ? id : undefined
    }
  })
