/**
 * `--broadcast`: a chat room. Every message from one client goes to all the
 * others, each through its own bounded queue. A client whose queue would
 * grow past {@linkcode BROADCAST_QUEUE_LIMIT} (it reads slower than the
 * room talks) is dropped with close 1008 instead of growing memory.
 *
 * @module
 */

import type { Message, WebSocketConnection } from "../../../mod.ts";
import type { Output } from "../output.ts";

/** Bytes of messages waiting for one client before it is dropped. */
export const BROADCAST_QUEUE_LIMIT = 1024 * 1024;
/** The close code a dropped client gets: it broke the room's pace. */
export const SLOW_CLIENT_CLOSE = 1008;

const encoder = new TextEncoder();

function sizeOf(message: Message): number {
  return typeof message === "string"
    ? encoder.encode(message).length
    : message.length;
}

/** One client of the room and the messages waiting for it. */
class Member {
  readonly conn: WebSocketConnection;
  readonly label: string;
  #queue: Message[] = [];
  #queued = 0;
  #wake: (() => void) | null = null;
  #gone = false;

  constructor(conn: WebSocketConnection, label: string) {
    this.conn = conn;
    this.label = label;
  }

  get gone(): boolean {
    return this.#gone;
  }

  /** Queues `message`; false (nothing queued) when that would pass the limit. */
  offer(message: Message, size: number): boolean {
    if (this.#gone) return true;
    if (this.#queued + size > BROADCAST_QUEUE_LIMIT) return false;
    this.#queue.push(message);
    this.#queued += size;
    this.#wake?.();
    return true;
  }

  /** Stops delivery and lets go of everything queued. */
  leave(): void {
    this.#gone = true;
    this.#queue = [];
    this.#queued = 0;
    this.#wake?.();
  }

  /** Sends queued messages in order until the member leaves. */
  async deliver(): Promise<void> {
    while (!this.#gone) {
      const message = this.#queue.shift();
      if (message === undefined) {
        await new Promise<void>((r) => this.#wake = r);
        this.#wake = null;
        continue;
      }
      try {
        await this.conn.send(message);
      } catch {
        this.leave();
        return;
      }
      this.#queued -= sizeOf(message);
    }
  }
}

/** The room: members join with their connection and stay until it closes. */
export class BroadcastRoom {
  #members = new Set<Member>();
  #out: Output;

  /** A room reporting drops on `out`. */
  constructor(out: Output) {
    this.#out = out;
  }

  /** How many clients are in the room. */
  get size(): number {
    return this.#members.size;
  }

  /** Serves `conn` as a member until its connection closes. */
  async join(conn: WebSocketConnection, label: string): Promise<void> {
    const member = new Member(conn, label);
    this.#members.add(member);
    const delivering = member.deliver();
    try {
      for await (const message of conn) {
        if (member.gone) continue;
        this.#relay(member, message);
      }
    } catch {
      // Lost or broke the protocol: the library has closed it; just leave.
    } finally {
      this.#members.delete(member);
      member.leave();
      await delivering;
      await conn.closed;
    }
  }

  #relay(from: Member, message: Message): void {
    const size = sizeOf(message);
    for (const member of this.#members) {
      if (member === from || member.gone) continue;
      if (!member.offer(message, size)) this.#drop(member);
    }
  }

  #drop(member: Member): void {
    this.#out.note(
      `${member.label}: dropped, more than ${BROADCAST_QUEUE_LIMIT} bytes waiting (close ${SLOW_CLIENT_CLOSE})`,
    );
    member.leave();
    member.conn.close(SLOW_CLIENT_CLOSE, "too slow for the broadcast")
      .catch(() => {});
  }
}
