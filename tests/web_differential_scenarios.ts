/**
 * The scenarios of the differential suite (see `web_scenarios.ts`).
 *
 * @module
 */

import {
  closePayload,
  echoUntilClose,
  logClientClose,
  OP,
  type Scenario,
} from "./web_scenarios.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

/** Open, text and binary both ways in both binaryTypes, client close with code and reason. */
export const echoBothTypes: Scenario = {
  name: "echo text and binary, client close",
  async server(peer, log) {
    await peer.readRequest();
    log.push(
      `protocols=${peer.request!.headers.get("sec-websocket-protocol")}`,
    );
    await peer.accept();
    await echoUntilClose(peer, log);
  },
  client(ws) {
    let n = 0;
    ws.onopen = () => {
      ws.send("héllo");
      ws.send(bytes(1, 2, 3));
    };
    ws.onmessage = () => {
      n++;
      if (n === 2) {
        ws.binaryType = "arraybuffer";
        ws.send(new Uint16Array([0x0102]).buffer);
        ws.send(new DataView(bytes(9, 8, 7, 6).buffer, 1, 2));
      }
      if (n === 4) {
        ws.send(new Blob([bytes(0xaa, 0xbb)]));
        ws.send("after blob");
      }
      if (n === 6) ws.close(4000, "bye ✓");
    };
  },
};

/** Fragmented text and binary with a ping between fragments; server closes 1000. */
export const fragmented: Scenario = {
  name: "fragmented messages and a ping",
  async server(peer, log) {
    await peer.accept();
    await peer.sendFrames([
      { opcode: OP.TEXT, fin: false, payload: "frag" },
      { opcode: OP.PING, payload: "p1" },
      { opcode: OP.CONT, fin: false, payload: "men" },
      { opcode: OP.CONT, fin: true, payload: "ted ✓" },
      { opcode: OP.BINARY, fin: false, payload: bytes(1) },
      { opcode: OP.CONT, fin: true, payload: bytes(2, 3) },
      { opcode: OP.TEXT, payload: "" },
      { opcode: OP.CLOSE, payload: closePayload(1000, "") },
    ]);
    await logClientClose(peer, log);
    const pongFirst = log.shift();
    log.unshift(pongFirst ?? "");
  },
};

/** Server closes with a code and a reason. */
export const serverClose: Scenario = {
  name: "server close 4001 with a reason",
  async server(peer, log) {
    await peer.accept();
    await peer.sendText("one");
    await peer.sendClose(4001, "über");
    await logClientClose(peer, log);
  },
};

/** Server closes without a status code. */
export const serverCloseEmpty: Scenario = {
  name: "server close without a code",
  async server(peer, log) {
    await peer.accept();
    await peer.sendClose();
    await logClientClose(peer, log);
  },
};

/** Client close() without arguments. */
export const clientCloseNoCode: Scenario = {
  name: "client close() without a code",
  async server(peer, log) {
    await peer.accept();
    await echoUntilClose(peer, log);
  },
  client(ws) {
    ws.onopen = () => ws.close();
  },
};

/** Client close(1000) with an unpaired surrogate reason (wpt Close-reason-unpaired-surrogates). */
export const clientCloseSurrogate: Scenario = {
  name: "client close with an unpaired surrogate reason",
  async server(peer, log) {
    await peer.accept();
    await echoUntilClose(peer, log);
  },
  client(ws) {
    ws.onopen = () => ws.close(1000, "\uD807");
  },
};

/** Messages sent after close() are only counted in bufferedAmount; readyState is CLOSING. */
export const sendAfterClose: Scenario = {
  name: "send after close",
  async server(peer, log) {
    await peer.accept();
    await echoUntilClose(peer, log);
  },
  client(ws, log) {
    ws.onopen = () => {
      ws.close(1000);
      log.push(`after close rs=${ws.readyState}`);
      ws.send("12345");
      ws.send(bytes(1, 2, 3));
      log.push(`bufferedAmount=${ws.bufferedAmount}`);
      ws.close(1000); // a second close does nothing
    };
  },
};

/** close() while connecting fails the connection. */
export const closeWhileConnecting: Scenario = {
  name: "close while connecting",
  async server(peer, log) {
    await peer.readRequest();
    await new Promise((r) => setTimeout(r, 100));
    try {
      await peer.accept();
      await logClientClose(peer, log);
    } catch {
      log.push("eof");
    }
  },
  client(ws, log) {
    ws.close();
    log.push(`after close rs=${ws.readyState}`);
  },
};

/** The server refuses the upgrade. */
export const handshake403: Scenario = {
  name: "handshake refused with 403",
  async server(peer) {
    await peer.readRequest();
    await peer.writeRaw(
      "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
  },
};

/** The server sends a wrong Sec-WebSocket-Accept. */
export const handshakeBadAccept: Scenario = {
  name: "handshake with a wrong accept value",
  async server(peer) {
    await peer.accept({ badAccept: true });
  },
};

/** A reserved opcode: a protocol error. */
export const reservedOpcode: Scenario = {
  name: "protocol error: reserved opcode",
  async server(peer, log) {
    await peer.accept();
    await peer.sendText("before");
    await peer.sendFrame({ opcode: 3, payload: "x" });
    await logClientClose(peer, log);
  },
};

/** RSV1 without an extension: a protocol error. */
export const rsvBit: Scenario = {
  name: "protocol error: RSV1 set",
  async server(peer, log) {
    await peer.accept();
    await peer.sendFrame({ opcode: OP.TEXT, rsv: 4, payload: "x" });
    await logClientClose(peer, log);
  },
};

/** Invalid UTF-8 in a text message. */
export const badUtf8: Scenario = {
  name: "invalid UTF-8 text",
  async server(peer, log) {
    await peer.accept();
    await peer.sendFrame({ opcode: OP.TEXT, payload: bytes(0x61, 0xff, 0x62) });
    await logClientClose(peer, log);
  },
};

/** The server drops TCP without a close frame. */
export const serverDrops: Scenario = {
  name: "server drops the connection",
  async server(peer, log) {
    await peer.accept();
    await peer.sendText("last");
    await new Promise((r) => setTimeout(r, 50));
    peer.close();
    log.push("dropped");
  },
};

/** The subprotocol the server selects is reported. */
export const subprotocol: Scenario = {
  name: "subprotocol selected",
  async server(peer, log) {
    await peer.readRequest();
    log.push(
      `protocols=${peer.request!.headers.get("sec-websocket-protocol")}`,
    );
    await peer.accept({ protocol: "chat" });
    await echoUntilClose(peer, log);
  },
  protocols: ["superchat", "chat"],
  client(ws) {
    ws.onopen = () => ws.close(1000);
  },
};

/** A subprotocol that the client did not offer (RFC 6455 §4.1: fail the connection). */
export const unofferedSubprotocol: Scenario = {
  name: "subprotocol not offered",
  async server(peer, log) {
    await peer.accept({ protocol: "chat" });
    await logClientClose(peer, log);
  },
};

/** close() from the first of three messages that arrived together: the rest are dropped. */
export const closeInsideMessage: Scenario = {
  name: "close inside onmessage",
  async server(peer, log) {
    await peer.accept();
    await peer.sendFrames([
      { opcode: OP.TEXT, payload: "a" },
      { opcode: OP.TEXT, payload: "b" },
      { opcode: OP.TEXT, payload: "c" },
    ]);
    await echoUntilClose(peer, log);
  },
  client(ws) {
    ws.onmessage = () => ws.close(1000);
  },
};

const MiB = 1024 * 1024;
const CHUNKS = 32;
let startReading = Promise.withResolvers<void>();

/** bufferedAmount while the peer does not read, and after it does. */
export const bufferedWhilePeerStalls: Scenario = {
  name: "bufferedAmount while the peer does not read",
  async server(peer, log) {
    await peer.accept();
    await startReading.promise;
    for (let i = 0; i < CHUNKS; i++) {
      const m = await peer.readMessage(10000);
      if (m?.payload.length !== MiB) throw new Error("short message");
    }
    log.push(`read ${CHUNKS} MiB`);
    await echoUntilClose(peer, log);
  },
  client(ws, log) {
    startReading = Promise.withResolvers<void>();
    ws.onopen = async () => {
      log.push(`before send ${ws.bufferedAmount}`);
      const chunk = new Uint8Array(MiB);
      ws.send(chunk);
      log.push(`after one send ${ws.bufferedAmount}`);
      for (let i = 1; i < CHUNKS; i++) ws.send(chunk);
      log.push(`after all sends ${ws.bufferedAmount}`);
      await new Promise((r) => setTimeout(r, 300));
      const stalled = ws.bufferedAmount;
      log.push(
        `stalled: 0 < amount < total ${0 < stalled && stalled < CHUNKS * MiB}`,
      );
      startReading.resolve();
      for (let i = 0; i < 500 && ws.bufferedAmount > 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      log.push(`drained ${ws.bufferedAmount}`);
      ws.close(1000);
    };
  },
};

/** Every scenario compared with the built-in. */
export const scenarios: Scenario[] = [
  echoBothTypes,
  fragmented,
  serverClose,
  serverCloseEmpty,
  clientCloseNoCode,
  clientCloseSurrogate,
  sendAfterClose,
  closeWhileConnecting,
  handshake403,
  handshakeBadAccept,
  reservedOpcode,
  rsvBit,
  badUtf8,
  serverDrops,
  subprotocol,
  unofferedSubprotocol,
  closeInsideMessage,
  bufferedWhilePeerStalls,
];
