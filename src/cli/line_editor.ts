/**
 * The interactive input line: a small raw-mode line editor with history,
 * used only when stdin and stdout are terminals (prompt mode). Pipes and
 * files are read by {@linkcode InputSource} as they are.
 *
 * {@linkcode LineEditor} is the pure part (keys in, buffer, cursor and
 * events out) so it is testable without a terminal;
 * {@linkcode startTerminalEditor} drives it from the real stdin.
 *
 * @module
 */

import { CliError, ExitCode } from "./exit.ts";

/** What a key press asks the caller to do. */
export type EditorEvent =
  | { type: "line"; text: string }
  | { type: "eof" }
  | { type: "interrupt" };

/** At most this many history entries are kept (memory and file). */
export const HISTORY_MAX = 1000;

/**
 * Terminal columns of one code point: 0 for combining marks, 2 for East
 * Asian wide characters and emoji, else 1 (a small wcwidth; the cursor
 * is moved by columns, not characters).
 */
export function columns(cp: number): number {
  if (
    (cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0xfe00 && cp <= 0xfe0f)
  ) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd)
  ) return 2;
  return 1;
}

/** Not text: C0 and C1 controls and DEL never go into the line. */
function isControl(cp: number): boolean {
  return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

/** Cursor left by `n` columns (empty for 0). */
function left(n: number): string {
  return n > 0 ? `\x1b[${n}D` : "";
}

/** Keys in, line buffer and events out. Knows nothing of terminals. */
export class LineEditor {
  /** The line, one code point per element. */
  #chars: string[] = [];
  #cursor = 0;
  #history: string[];
  /** Index into history while browsing with Up/Down; length = the draft. */
  #browse: number;
  #draft: string[] = [];
  /** An escape sequence cut between two reads. */
  #pending = "";

  /** Starts with `history` (oldest first) for Up/Down. */
  constructor(history: string[] = []) {
    // A history file is text the user may have edited: keep controls out.
    this.#history = history.slice(-HISTORY_MAX).map((line) =>
      [...line].filter((ch) => !isControl(ch.codePointAt(0)!)).join("")
    );
    this.#browse = this.#history.length;
  }

  /** The text typed so far. */
  get text(): string {
    return this.#chars.join("");
  }

  /** The cursor, in code points from the start of the line. */
  get cursor(): number {
    return this.#cursor;
  }

  /** The history, oldest first. */
  get history(): readonly string[] {
    return this.#history;
  }

  /**
   * The line as the terminal should show it after the prompt: the text,
   * then the cursor moved back to where it is in the text.
   */
  render(): string {
    let back = 0;
    for (let i = this.#cursor; i < this.#chars.length; i++) {
      back += columns(this.#chars[i].codePointAt(0)!);
    }
    return this.text + left(back);
  }

  /** Feeds decoded input; returns the events it completes, in order. */
  feed(input: string): EditorEvent[] {
    const events: EditorEvent[] = [];
    const s = this.#pending + input;
    this.#pending = "";
    let i = 0;
    while (i < s.length) {
      const cp = s.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      if (cp === 0x1b) {
        const n = this.#escape(s, i);
        if (n === 0) {
          this.#pending = s.slice(i);
          break;
        }
        i += n;
        continue;
      }
      i += ch.length;
      const event = this.#key(cp, ch);
      if (event) events.push(event);
    }
    return events;
  }

  /** One non-escape key. */
  #key(cp: number, ch: string): EditorEvent | null {
    switch (cp) {
      case 0x0d: // Enter (raw mode: no CR to LF mapping)
      case 0x0a:
        return this.#enter();
      case 0x03: // Ctrl-C, when the terminal does not turn it into SIGINT
        return { type: "interrupt" };
      case 0x04: // Ctrl-D: EOF on an empty line, else delete under the cursor
        if (this.#chars.length === 0) return { type: "eof" };
        this.#chars.splice(this.#cursor, 1);
        return null;
      case 0x01: // Ctrl-A
        this.#cursor = 0;
        return null;
      case 0x05: // Ctrl-E
        this.#cursor = this.#chars.length;
        return null;
      case 0x02: // Ctrl-B
        this.#move(-1);
        return null;
      case 0x06: // Ctrl-F
        this.#move(1);
        return null;
      case 0x7f: // Backspace
      case 0x08: // Ctrl-H
        if (this.#cursor > 0) this.#chars.splice(--this.#cursor, 1);
        return null;
      case 0x15: // Ctrl-U: the whole line
        this.#chars = [];
        this.#cursor = 0;
        return null;
      case 0x0b: // Ctrl-K: to the end
        this.#chars.length = this.#cursor;
        return null;
      case 0x17: // Ctrl-W: the word before the cursor
        this.#killWord();
        return null;
      case 0x10: // Ctrl-P
        this.#historyStep(-1);
        return null;
      case 0x0e: // Ctrl-N
        this.#historyStep(1);
        return null;
    }
    // Other controls (C0, DEL, C1) are not text: never put them on screen.
    if (isControl(cp)) return null;
    this.#chars.splice(this.#cursor++, 0, ch);
    return null;
  }

  /**
   * An escape sequence at `s[i]`: returns its length, or 0 when it is cut
   * off (wait for the rest). Unknown sequences are skipped whole.
   */
  #escape(s: string, i: number): number {
    if (i + 1 >= s.length) return 0;
    const kind = s[i + 1];
    if (kind !== "[" && kind !== "O") return 1; // lone ESC: ignored
    let j = i + 2;
    // CSI: parameter bytes, then one final byte in @..~.
    while (j < s.length && /[0-9;]/.test(s[j])) j++;
    if (j >= s.length) return 0;
    const seq = s.slice(i + 2, j + 1);
    switch (seq) {
      case "A":
        this.#historyStep(-1);
        break;
      case "B":
        this.#historyStep(1);
        break;
      case "C":
        this.#move(1);
        break;
      case "D":
        this.#move(-1);
        break;
      case "H":
      case "1~":
      case "7~":
        this.#cursor = 0;
        break;
      case "F":
      case "4~":
      case "8~":
        this.#cursor = this.#chars.length;
        break;
      case "3~": // Delete
        this.#chars.splice(this.#cursor, 1);
        break;
    }
    return j + 1 - i;
  }

  #move(by: number): void {
    this.#cursor = Math.max(
      0,
      Math.min(this.#chars.length, this.#cursor + by),
    );
  }

  #killWord(): void {
    let start = this.#cursor;
    while (start > 0 && this.#chars[start - 1] === " ") start--;
    while (start > 0 && this.#chars[start - 1] !== " ") start--;
    this.#chars.splice(start, this.#cursor - start);
    this.#cursor = start;
  }

  #historyStep(by: number): void {
    const to = this.#browse + by;
    if (to < 0 || to > this.#history.length) return;
    if (this.#browse === this.#history.length) this.#draft = this.#chars;
    this.#browse = to;
    this.#chars = to === this.#history.length
      ? this.#draft
      : [...this.#history[to]];
    this.#cursor = this.#chars.length;
  }

  #enter(): EditorEvent {
    const text = this.text;
    if (text !== "" && this.#history.at(-1) !== text) {
      this.#history.push(text);
      if (this.#history.length > HISTORY_MAX) this.#history.shift();
    }
    this.#browse = this.#history.length;
    this.#draft = [];
    this.#chars = [];
    this.#cursor = 0;
    return { type: "line", text };
  }
}

/** Where the editor shows its line (implemented by {@linkcode Output}). */
export interface EditorScreen {
  /** The editor's line changed: redraw it. */
  redrawInput(): void;
  /** Enter sent `text`: it stays on screen, input goes on below. */
  endInput(text: string): void;
}

/** A running terminal editor. */
export interface TerminalEditor {
  /** Sent lines, each with its `\n`; ends at Ctrl-D on an empty line. */
  readable: ReadableStream<Uint8Array>;
  /** The line shown after the prompt (see {@linkcode LineEditor.render}). */
  render(): string;
  /** Stops reading and gives the terminal back its normal mode. Idempotent. */
  close(): void;
}

/** Options of {@linkcode startTerminalEditor}. */
export interface TerminalEditorOptions {
  /** --history FILE: loaded at start, each sent line appended. */
  historyFile?: string;
  /** Ctrl-C arrived as a byte (the SIGINT path). */
  onInterrupt(): void;
}

/**
 * Checks the permissions --history needs, before anything is connected:
 * a usage error naming both flags.
 */
export function checkHistoryPermission(path: string): void {
  const read = Deno.permissions.querySync({ name: "read", path }).state;
  const write = Deno.permissions.querySync({ name: "write", path }).state;
  if (read !== "granted" || write !== "granted") {
    throw new CliError(
      ExitCode.USAGE,
      `--history ${path} needs --allow-read=${path} --allow-write=${path}`,
    );
  }
}

/** The last {@linkcode HISTORY_MAX} lines of the history file (none if missing). */
export function loadHistory(path: string): string[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return text.split("\n").filter((l) => l !== "").slice(-HISTORY_MAX);
}

/** Rewrites the file with its last lines once it is this much over the cap. */
const HISTORY_SLACK = 100;

function appendHistory(path: string, line: string, editor: LineEditor): void {
  try {
    Deno.writeTextFileSync(path, line + "\n", { append: true });
    // Keep the file bounded: trim it now and then, not on every line.
    if (loadHistory(path).length > HISTORY_MAX + HISTORY_SLACK) {
      Deno.writeTextFileSync(path, editor.history.join("\n") + "\n");
    }
  } catch {
    // History is a convenience: a full disk must not end the session.
  }
}

const encoder = new TextEncoder();

/**
 * Reads the terminal in raw mode (cbreak: Ctrl-C still raises SIGINT, so
 * the interrupt path is the one pipes have) and edits lines on `screen`.
 */
export function startTerminalEditor(
  screen: EditorScreen,
  options: TerminalEditorOptions,
): TerminalEditor {
  const history = options.historyFile ? loadHistory(options.historyFile) : [];
  const editor = new LineEditor(history);
  const reader = Deno.stdin.readable.getReader();
  const decoder = new TextDecoder();
  let raw = false;
  let closed = false;
  const restore = () => {
    if (!raw) return;
    raw = false;
    try {
      Deno.stdin.setRaw(false);
    } catch {
      // stdin is gone: nothing to restore.
    }
  };
  // Deno.exit (a second Ctrl-C) runs unload listeners: never leave it raw.
  globalThis.addEventListener("unload", restore);
  const close = () => {
    if (closed) return;
    closed = true;
    restore();
    globalThis.removeEventListener("unload", restore);
    reader.cancel().catch(() => {});
  };
  Deno.stdin.setRaw(true, { cbreak: true });
  raw = true;

  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch (e) {
          close();
          controller.error(e);
          return;
        }
        if (chunk.done) {
          close();
          controller.close();
          return;
        }
        const events = editor.feed(
          decoder.decode(chunk.value, { stream: true }),
        );
        let produced = false;
        for (const event of events) {
          if (event.type === "interrupt") {
            options.onInterrupt();
          } else if (event.type === "eof") {
            screen.redrawInput();
            close();
            controller.close();
            return;
          } else {
            screen.endInput(event.text);
            if (options.historyFile && event.text !== "") {
              appendHistory(options.historyFile, event.text, editor);
            }
            controller.enqueue(encoder.encode(event.text + "\n"));
            produced = true;
          }
        }
        screen.redrawInput();
        if (produced) return;
      }
    },
    cancel() {
      close();
    },
  });
  return { readable, render: () => editor.render(), close };
}
