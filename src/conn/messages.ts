/**
 * Whole messages from frame pieces: bounded assembly (a fragment costs its
 * payload, nothing more), and the iterator and Web Streams adapters.
 *
 * @module
 */

import { WebSocketError } from "../errors.ts";
import { WS } from "../flags.ts";
import type { Piece } from "../protocol.ts";
import { MessageBuffer } from "../message_buffer.ts";

/** A whole received message: text as a string, binary as bytes. */
export type Message = string | Uint8Array;

const CONTROL_FLAGS = WS.CLOSE | WS.PING | WS.PONG;
// ignoreBOM: a leading U+FEFF is message content, not a byte order mark.
const textDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** Where a message's pieces come from (the caller holds the read lock). */
export interface MessageSource {
  /** A buffered piece without awaiting, or null. */
  pullBuffered(): Piece | null;
  /** The next piece. */
  pull(): Promise<Piece>;
  /** True once the peer's close frame arrived. */
  closeReceived(): boolean;
  /** The message passed the limit: fail the connection (1009) and throw. */
  tooBig(size: number): never;
}

/**
 * The next whole data message, skipping control frames; null once the peer
 * has closed. In raw mode every piece is a "message" of its own.
 */
export async function receiveMessage(
  source: MessageSource,
  maxMessageSize: number,
  raw: boolean,
): Promise<Message | null> {
  // Made for the second piece: a message in one piece is copied out as is.
  let message: MessageBuffer | null = null;
  for (;;) {
    let piece: Piece;
    try {
      piece = source.pullBuffered() ?? await source.pull();
    } catch (e) {
      // A finished close handshake ends the message stream quietly.
      if (
        e instanceof WebSocketError && e.code === "CLOSED" &&
        source.closeReceived()
      ) return null;
      throw e;
    }
    const { flags, bytesleft } = piece.meta;
    if (raw) return piece.data.slice();
    if (flags & CONTROL_FLAGS) {
      if (flags & WS.CLOSE) return null;
      continue;
    }
    const last = bytesleft === 0 && (flags & WS.CONT) === 0;
    if (message === null && last) {
      if (piece.data.length > maxMessageSize) source.tooBig(piece.data.length);
      return flags & WS.TEXT
        ? textDecoder.decode(piece.data)
        : piece.data.slice();
    }
    message ??= new MessageBuffer(maxMessageSize);
    if (!message.append(piece.data, bytesleft)) {
      source.tooBig(message.size + piece.data.length + bytesleft);
    }
    if (last) {
      return flags & WS.TEXT ? message.takeText(textDecoder) : message.take();
    }
  }
}

/** Received messages as a stream; cancelling it runs `cancel`. */
export function messageReadable(
  receive: () => Promise<Message | null>,
  cancel: () => Promise<void>,
): ReadableStream<Message> {
  return new ReadableStream<Message>({
    pull: async (controller) => {
      const message = await receive();
      if (message === null) controller.close();
      else controller.enqueue(message);
    },
    cancel,
  }, { highWaterMark: 0 });
}

/** A stream that sends each chunk as one message. */
export function messageWritable(
  send: (message: Message) => Promise<unknown>,
  close: () => Promise<void>,
  abort: () => Promise<void>,
): WritableStream<Message> {
  return new WritableStream<Message>({
    write: async (message) => {
      await send(message);
    },
    close,
    abort,
  });
}
