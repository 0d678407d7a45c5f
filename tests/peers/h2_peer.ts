/**
 * A scripted HTTP/2 server side for the sans-I/O session tests: it builds
 * the frames a server sends and reads back what the client wrote.
 *
 * @module
 */
import assert from "node:assert/strict";
import { concat } from "../../src/bytes.ts";
import {
  CLIENT_PREFACE,
  encodeFrame,
  encodeHeaders,
  encodeSettings,
  Flag,
  FrameReader,
  FrameType,
  type RawFrame,
  SettingId,
} from "../../src/h2/frames.ts";
import {
  type HeaderField,
  HpackDecoder,
  HpackEncoder,
} from "../../src/h2/hpack.ts";
import type { Http2ClientSession, Http2Event } from "../../src/h2/session.ts";

/** A frame the client wrote, with its payload copied. */
export interface SentFrame extends RawFrame {
  /** Decoded header list, for HEADERS (with its CONTINUATIONs). */
  fields?: HeaderField[];
}

/** The server end of a session under test. */
export class ScriptedPeer {
  readonly session: Http2ClientSession;
  readonly encoder: HpackEncoder = new HpackEncoder();
  readonly decoder: HpackDecoder = new HpackDecoder();
  #reader = new FrameReader(1 << 24);
  #prefaceSeen = false;
  #block: Uint8Array[] = [];

  constructor(session: Http2ClientSession) {
    this.session = session;
  }

  /** Frames the client wrote since the last call. */
  sent(): SentFrame[] {
    let out = this.session.takeOutput();
    if (!this.#prefaceSeen) {
      assert.deepEqual(out.subarray(0, CLIENT_PREFACE.length), CLIENT_PREFACE);
      out = out.subarray(CLIENT_PREFACE.length);
      this.#prefaceSeen = true;
    }
    this.#reader.push(out);
    const frames: SentFrame[] = [];
    for (let f; (f = this.#reader.next()) !== null;) {
      const copy: SentFrame = { ...f, payload: f.payload.slice() };
      if (f.type === FrameType.HEADERS || f.type === FrameType.CONTINUATION) {
        this.#block.push(copy.payload);
        if (f.flags & Flag.END_HEADERS) {
          copy.fields = this.decoder.decode(concat(this.#block)) ?? undefined;
          this.#block = [];
        }
      }
      frames.push(copy);
    }
    assert.equal(this.#reader.buffered, 0, "client wrote a partial frame");
    return frames;
  }

  /** Feeds bytes to the client and returns its events. */
  send(...frames: Uint8Array[]): Http2Event[] {
    return this.session.receive(concat(frames));
  }

  /** The server's SETTINGS (RFC 8441 enabled unless told otherwise). */
  settings(
    entries: Array<[number, number]> = [[SettingId.ENABLE_CONNECT_PROTOCOL, 1]],
  ): Uint8Array {
    return encodeSettings(entries);
  }

  /** A response or trailer header block in one HEADERS frame. */
  headers(
    streamId: number,
    fields: HeaderField[],
    endStream = false,
  ): Uint8Array {
    return encodeHeaders(
      streamId,
      this.encoder.encode(fields),
      endStream,
      16384,
    );
  }

  /** A DATA frame. */
  data(
    streamId: number,
    data: Uint8Array,
    endStream = false,
    padLength?: number,
  ): Uint8Array {
    return encodeFrame(
      FrameType.DATA,
      endStream ? Flag.END_STREAM : 0,
      streamId,
      data,
      padLength,
    );
  }

  /** Server SETTINGS + ACK of the client's, then takes the client's output. */
  handshake(entries?: Array<[number, number]>): Http2Event[] {
    const events = this.send(
      this.settings(entries),
      encodeFrame(FrameType.SETTINGS, Flag.ACK, 0),
    );
    this.sent();
    return events;
  }
}

/** The 32-bit value at `at`. */
export function u32(b: Uint8Array, at = 0): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at);
}
