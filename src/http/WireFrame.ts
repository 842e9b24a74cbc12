/**
 * Server-to-client WebSocket frames built once and written as they are (RFC 6455
 * §5.2: FIN, binary opcode, no mask — server frames are never masked, so the
 * bytes are the same for every socket). A room's event is framed once and the
 * same Buffer goes to each subscriber's socket, instead of `ws` building a
 * header and a two-buffer write per subscriber ("prepared messages" in
 * gorilla/websocket and centrifuge). No compression is negotiated on `/ws`.
 */

const framed = new WeakMap<Uint8Array, Buffer>()

/** The complete binary WebSocket frame carrying `payload`; cached per payload while it is alive. */
export const binaryFrame = (payload: Uint8Array): Buffer => {
  const cached = framed.get(payload)
  if (cached !== undefined) return cached
  const length = payload.byteLength
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10
  const frame = Buffer.allocUnsafe(headerLength + length)
  frame[0] = 0x82
  if (length < 126) {
    frame[1] = length
  } else if (length < 65_536) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeBigUInt64BE(BigInt(length), 2)
  }
  frame.set(payload, headerLength)
  framed.set(payload, frame)
  return frame
}
