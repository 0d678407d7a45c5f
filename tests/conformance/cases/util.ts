/**
 * Building blocks shared by the case modules.
 *
 * @module
 */

import type { CaseDef, Ending, Expect, Message } from "../lib/judge.ts";
import type { SendOptions, Session } from "../lib/session.ts";
import { type FrameSpec, OP } from "../lib/wire.ts";

/** Bytes of a string in UTF-8. */
export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** Bytes from a list of numbers and strings (strings in UTF-8). */
export function bytes(...parts: Array<number | number[] | string>): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else if (typeof p === "string") out.push(...utf8(p));
    else out.push(...p);
  }
  return new Uint8Array(out);
}

/** A text message (for expected echoes). */
export function textMsg(payload: string | Uint8Array): Message {
  return {
    opcode: OP.TEXT,
    payload: typeof payload === "string" ? utf8(payload) : payload,
  };
}

/** A binary message (for expected echoes). */
export function binaryMsg(payload: Uint8Array): Message {
  return { opcode: OP.BINARY, payload };
}

/** ASCII text of `n` bytes (Autobahn's repeated "BAsd7&jh23"). */
export function asciiPayload(n: number): Uint8Array {
  const pattern = utf8("BAsd7&jh23");
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = pattern[i % pattern.length];
  return out;
}

/** Binary payload of `n` bytes covering every byte value. */
export function binaryPayload(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 167 + 13) & 0xff;
  return out;
}

/** Splits a payload into data frames of at most `size` bytes (first frame `opcode`, then CONT). */
export function fragment(
  opcode: number,
  payload: Uint8Array,
  size: number,
): FrameSpec[] {
  const frames: FrameSpec[] = [];
  if (payload.length === 0) return [{ opcode, payload, fin: true }];
  for (let o = 0; o < payload.length; o += size) {
    frames.push({
      opcode: o === 0 ? opcode : OP.CONT,
      payload: payload.subarray(o, o + size),
      fin: o + size >= payload.length,
    });
  }
  return frames;
}

/** Splits a payload at the given offsets into a fragmented message. */
export function splitAt(
  opcode: number,
  payload: Uint8Array,
  cuts: number[],
): FrameSpec[] {
  const edges = [0, ...cuts, payload.length];
  const frames: FrameSpec[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    frames.push({
      opcode: i === 0 ? opcode : OP.CONT,
      payload: payload.subarray(edges[i], edges[i + 1]),
      fin: i + 2 === edges.length,
    });
  }
  return frames;
}

/** An ending where the client fails the connection. */
export type ClientFailure = Extract<Ending, { by: "client" }>;

/** The client must fail the connection with 1002 (protocol error). */
export const FAIL_1002: ClientFailure = {
  by: "client",
  ok: [1002],
  nonStrict: [1007, 1008, 1011],
};
/** The client must fail the connection with 1007 (invalid payload data). */
export const FAIL_1007: ClientFailure = {
  by: "client",
  ok: [1007],
  nonStrict: [1002, 1008, 1011],
};
/** Normal end: the server closes with 1000 once the echoes are in. */
export const NORMAL: Ending = { by: "server" };

/** A case that sends `frames` in one go (or as `opts` says) and expects `expect`. */
export function simpleCase(
  id: string,
  description: string,
  expectation: string,
  frames: FrameSpec[],
  expect: Expect,
  opts: SendOptions = {},
): CaseDef {
  return {
    id,
    description,
    expectation,
    async run(s: Session) {
      await s.send(frames, opts);
      return expect;
    },
  };
}

/** Ways of putting a sequence of frames on the wire, Autobahn style. */
export const WIRE = {
  /** All frames in one write. */
  together: {} as SendOptions,
  /** One write per frame, with a short pause so they arrive separately. */
  frameWise: { perFrame: true, delayMs: 5 } as SendOptions,
  /** One write per byte. */
  byteWise: { chop: 1, delayMs: 1 } as SendOptions,
} as const;
