/**
 * The WHATWG `WebSocket` interface on a wsnc connection, so that code
 * written for the built-in switches with one line and gains what
 * {@linkcode ConnectOptions} adds (CA certificates, proxies,
 * permessage-deflate, large messages, keepalive).
 *
 * @module
 */

import { connect, type ConnectOptions } from "../client.ts";
import type { WebSocketConnection } from "../connection.ts";
import { WebSocketError } from "../errors.ts";
import { closeArgs, subprotocols, webSocketUrl } from "./checks.ts";
import {
  byteSize,
  closeConnection,
  Outgoing,
  type WebSocketData,
} from "./outgoing.ts";

export type { WebSocketData };

/** The connection failed before or after opening: `error`, then `close` with 1006. */
const FAILED = { code: 1006, reason: "", wasClean: false };

/** The events of a {@linkcode WebSocket}, as in the WHATWG interface. */
export interface WebSocketEventMap {
  /** The connection opened. */
  open: Event;
  /** A message arrived. */
  message: MessageEvent;
  /** The connection failed (then `close` follows). */
  error: Event;
  /** The connection closed. */
  close: CloseEvent;
}
type EventName = keyof WebSocketEventMap;
/**
 * An `on…` event handler. No `this` type, so that a handler written for the
 * built-in WebSocket fits too.
 */
export type WebSocketEventHandler<E extends Event = Event> =
  // deno-lint-ignore no-explicit-any
  | ((ev: E) => any)
  | null;

/**
 * wsnc's connect options; `protocols` may also be one string, so Deno's own
 * `new WebSocket(url, { protocols, headers })` form works unchanged.
 */
export interface WebSocketOptions extends Omit<ConnectOptions, "protocols"> {
  /** Subprotocols to offer. */
  protocols?: string | string[];
}
type AnyHandler = WebSocketEventHandler<never>;

/**
 * A WebSocket client with the WHATWG interface (`readyState`, `binaryType`,
 * `bufferedAmount`, `send`, `close`, `onopen`/`onmessage`/`onerror`/`onclose`
 * and `addEventListener`) over wsnc's {@linkcode connect}. The third
 * constructor argument takes every {@linkcode ConnectOptions} option.
 *
 * Events follow the standard: `open`, then one `message` (`MessageEvent`)
 * per message, then `error` (`Event`) if the connection failed, then `close`
 * (`CloseEvent` with `code`, `reason`, `wasClean`), each from its own turn
 * of the event loop, never from inside `send()` or `close()`.
 *
 * @example Echo through Deno.serve
 * ```ts
 * import assert from "node:assert/strict";
 * import { WebSocket } from "@wsnc/wsnc";
 *
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
 *   const { socket, response } = Deno.upgradeWebSocket(req);
 *   socket.onmessage = (e) => socket.send(e.data);
 *   return response;
 * });
 * const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
 * ws.binaryType = "arraybuffer";
 * ws.onopen = () => ws.send(new Uint8Array([1, 2, 3]));
 * const echo = await new Promise<MessageEvent>((resolve) => ws.onmessage = resolve);
 * assert.deepEqual(new Uint8Array(echo.data), new Uint8Array([1, 2, 3]));
 * ws.close(1000, "done");
 * const closed = await new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
 * assert.equal(closed.code, 1000);
 * assert.equal(closed.wasClean, true);
 * await server.shutdown();
 * ```
 */
export class WebSocket extends EventTarget {
  /** The connection is being established. */
  static readonly CONNECTING = 0;
  /** The connection is open. */
  static readonly OPEN = 1;
  /** The closing handshake has started. */
  static readonly CLOSING = 2;
  /** The connection is closed. */
  static readonly CLOSED = 3;
  /** The connection is being established. */
  readonly CONNECTING = 0;
  /** The connection is open. */
  readonly OPEN = 1;
  /** The closing handshake has started. */
  readonly CLOSING = 2;
  /** The connection is closed. */
  readonly CLOSED = 3;

  #url: URL;
  #state = 0;
  #protocol = "";
  #extensions = "";
  #binaryType: BinaryType = "blob";
  #conn: WebSocketConnection | null = null;
  #out: Outgoing | null = null;
  /** Bytes passed to send() once closing: counted, never sent (as the standard says). */
  #discarded = 0;
  #abort = new AbortController();
  #handlers = new Map<
    EventName,
    { handler: AnyHandler; listener: (ev: Event) => void }
  >();

  /**
   * Checks `url` and `protocols` (SyntaxError) and starts connecting.
   * `options` are wsnc's connect options; they may also come second, in
   * place of `protocols`, as with Deno's own WebSocket. Given both ways,
   * `protocols` wins over `options.protocols`.
   */
  constructor(
    url: string | URL,
    protocols?: string | string[] | WebSocketOptions,
    options: WebSocketOptions = {},
  ) {
    super();
    this.#url = webSocketUrl(url);
    if (typeof protocols === "object" && !Array.isArray(protocols)) {
      options = protocols;
      protocols = undefined;
    }
    const offered = subprotocols(protocols ?? options.protocols);
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.#abort.signal])
      : this.#abort.signal;
    connect(this.#url, { ...options, protocols: offered, signal }).then(
      (conn) => this.#opened(conn),
      () => this.#failed(),
    );
  }

  /** The URL, after http(s) became ws(s). */
  get url(): string {
    return this.#url.href;
  }

  /** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3). */
  get readyState(): number {
    return this.#state;
  }

  /** The subprotocol the server selected; "" until open. */
  get protocol(): string {
    return this.#protocol;
  }

  /** The extensions the server accepted; "" until open. */
  get extensions(): string {
    return this.#extensions;
  }

  /** How binary messages arrive: "blob" (default) or "arraybuffer"; other values are ignored. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }
  set binaryType(value: BinaryType) {
    if (value === "blob" || value === "arraybuffer") this.#binaryType = value;
  }

  /** Bytes passed to send() that have not been written to the socket yet. */
  get bufferedAmount(): number {
    return (this.#out?.bufferedAmount ?? 0) + this.#discarded;
  }

  /**
   * Sends a text (string) or binary message. Throws InvalidStateError while
   * connecting; once closing, the data is only added to `bufferedAmount`.
   */
  send(data: WebSocketData): void {
    if (this.#state === WebSocket.CONNECTING) {
      throw new DOMException(
        "send() before the connection is open",
        "InvalidStateError",
      );
    }
    if (this.#state !== WebSocket.OPEN || this.#out === null) {
      this.#discarded += byteSize(data);
      return;
    }
    this.#out.send(data);
  }

  /**
   * Starts the closing handshake (code 1000 or 3000-4999, else
   * InvalidAccessError; reason of at most 123 UTF-8 bytes, else
   * SyntaxError). While connecting it fails the connection instead.
   */
  close(code?: number, reason?: string): void {
    const args = closeArgs(code, reason);
    if (this.#state >= WebSocket.CLOSING) return;
    if (this.#state === WebSocket.CONNECTING) {
      this.#state = WebSocket.CLOSING;
      this.#abort.abort(
        new WebSocketError("ABORTED", "close() before the connection opened"),
      );
      return;
    }
    this.#state = WebSocket.CLOSING;
    closeConnection(this.#conn!, args.code, args.reason);
  }

  /** Handler of `open` events. */
  get onopen(): WebSocketEventHandler<Event> {
    return this.#handler("open") as WebSocketEventHandler<Event>;
  }
  set onopen(h: WebSocketEventHandler<Event>) {
    this.#setHandler("open", h);
  }
  /** Handler of `message` events (`MessageEvent`). */
  get onmessage(): WebSocketEventHandler<MessageEvent> {
    return this.#handler("message") as WebSocketEventHandler<MessageEvent>;
  }
  set onmessage(h: WebSocketEventHandler<MessageEvent>) {
    this.#setHandler("message", h);
  }
  /** Handler of `error` events. */
  get onerror(): WebSocketEventHandler<Event> {
    return this.#handler("error") as WebSocketEventHandler<Event>;
  }
  set onerror(h: WebSocketEventHandler<Event>) {
    this.#setHandler("error", h);
  }
  /** Handler of `close` events (`CloseEvent`). */
  get onclose(): WebSocketEventHandler<CloseEvent> {
    return this.#handler("close") as WebSocketEventHandler<CloseEvent>;
  }
  set onclose(h: WebSocketEventHandler<CloseEvent>) {
    this.#setHandler("close", h);
  }

  /** Adds a listener; typed for the WebSocket events. */
  override addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    // deno-lint-ignore no-explicit-any
    listener: (ev: WebSocketEventMap[K]) => any,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Adds a listener for any event type. */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener, options);
  }

  /** Removes a listener; typed for the WebSocket events. */
  override removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    // deno-lint-ignore no-explicit-any
    listener: (ev: WebSocketEventMap[K]) => any,
    options?: boolean | EventListenerOptions,
  ): void;
  /** Removes a listener for any event type. */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener, options);
  }

  #handler(type: EventName): AnyHandler {
    return this.#handlers.get(type)?.handler ?? null;
  }

  /** An event handler keeps the place in the listener list where it was first set. */
  #setHandler(type: EventName, handler: AnyHandler): void {
    const entry = this.#handlers.get(type);
    if (typeof handler !== "function") {
      if (entry) this.removeEventListener(type, entry.listener);
      this.#handlers.delete(type);
      return;
    }
    if (entry) {
      entry.handler = handler;
      return;
    }
    const slot = {
      handler,
      listener: (ev: Event) => {
        (slot.handler as WebSocketEventHandler)?.call(this, ev);
      },
    };
    this.#handlers.set(type, slot);
    this.addEventListener(type, slot.listener);
  }

  // ------------------------------------------------------------- the network

  #opened(conn: WebSocketConnection): void {
    if (this.#state !== WebSocket.CONNECTING) {
      // close() came first: the standard fails the connection.
      conn.close(1001).catch(() => {});
      this.#failed();
      return;
    }
    this.#conn = conn;
    this.#out = new Outgoing(conn);
    this.#protocol = conn.protocol;
    this.#extensions = conn.extensions;
    this.#state = WebSocket.OPEN;
    // connect() resolved on a task of its own: the open event belongs to it.
    this.dispatchEvent(new Event("open"));
    this.#readLoop(conn);
  }

  async #readLoop(conn: WebSocketConnection): Promise<void> {
    const origin = this.#url.origin;
    try {
      for (;;) {
        const data = await conn.receive();
        if (data === null) break;
        // After close() the standard drops what still arrives.
        if (this.#state !== WebSocket.OPEN) continue;
        this.dispatchEvent(
          new MessageEvent("message", {
            data: this.#messageData(data),
            origin,
          }),
        );
      }
    } catch {
      this.#state = WebSocket.CLOSING;
      await conn.closed;
      this.#failed();
      return;
    }
    this.#state = WebSocket.CLOSING;
    const info = await conn.closed;
    this.#state = WebSocket.CLOSED;
    this.dispatchEvent(new CloseEvent("close", info));
  }

  #messageData(data: string | Uint8Array): string | Blob | ArrayBuffer {
    if (typeof data === "string") return data;
    if (this.#binaryType === "blob") {
      return new Blob([data as Uint8Array<ArrayBuffer>]);
    }
    const whole = data.byteOffset === 0 &&
      data.byteLength === data.buffer.byteLength &&
      data.buffer instanceof ArrayBuffer;
    return whole ? data.buffer as ArrayBuffer : data.slice().buffer;
  }

  /** "Fail the WebSocket connection": `error`, then `close` (1006). */
  #failed(): void {
    if (this.#state === WebSocket.CLOSED) return;
    this.#state = WebSocket.CLOSED;
    this.dispatchEvent(new Event("error"));
    this.dispatchEvent(new CloseEvent("close", FAILED));
  }
}
