/**
 * Where the CLI writes: message data to stdout, everything else to stderr,
 * and on a terminal the `> ` / `< ` prompts.
 *
 * @module
 */

import { escapeControls } from "./escape.ts";
import type { EditorScreen } from "./line_editor.ts";

const encoder = new TextEncoder();
/** Return to column 0 and clear the line: makes room for an incoming message. */
const CLEAR_LINE = "\r\x1b[K";

/** Options of {@linkcode Output}. */
export interface OutputOptions {
  /** Show `> ` for input and `< ` before received messages (interactive use). */
  prompt: boolean;
  /** Suppress status notes (errors are still printed). */
  quiet: boolean;
  /**
   * Stdout is a terminal: received text is shown with its control
   * characters escaped (piped stdout gets the data as it is).
   */
  terminal?: boolean;
}

/** A byte sink for diagnostics, e.g. `Deno.stderr`. */
export interface SyncSink {
  writeSync(p: Uint8Array): number;
}

/** Stdout bytes are gathered up to this size before a write. */
const BATCH = 64 * 1024;

/**
 * Writes to stdout in batches and status lines to stderr, in order.
 *
 * Stdout data is copied into a 64 KiB buffer that is written when it is
 * full, at the end of the event-loop turn (before the process waits for
 * input), or on {@linkcode Output.flush}: one write per batch instead of
 * one per frame piece (1M tiny frames cost a write each). A full buffer
 * makes `write()` wait, so a slow reader still slows the connection down.
 * A stderr line written while stdout bytes are pending waits behind them,
 * so the two streams keep their order on a terminal.
 */
export class Output implements EditorScreen {
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #stderr: SyncSink;
  #prompt: boolean;
  #quiet: boolean;
  #terminal: boolean;
  /** Interactive: the "> " prompt is on screen, waiting for input. */
  #promptShown = false;
  /** The line editor's text after the prompt (terminal stdin), or none. */
  #editorLine: (() => string) | null = null;
  #buf = new Uint8Array(BATCH);
  #len = 0;
  /** Sealed output in order: stdout batches, and stderr lines behind them. */
  #queue: { out?: Uint8Array; err?: Uint8Array }[] = [];
  #pump: Promise<void> | null = null;
  #flushScheduled = false;
  /** The first stdout write error (EPIPE...); later writes reject with it. */
  #failed: { error: unknown } | null = null;

  /** Wraps the two streams. */
  constructor(
    stdout: WritableStream<Uint8Array>,
    stderr: SyncSink,
    options: OutputOptions,
  ) {
    this.#writer = stdout.getWriter();
    // A closed stdout (EPIPE) also rejects `closed`; write() reports it.
    this.#writer.closed.catch(() => {});
    this.#stderr = stderr;
    this.#prompt = options.prompt;
    this.#quiet = options.quiet;
    this.#terminal = options.terminal ?? false;
  }

  /** Stdout is a terminal (see {@linkcode OutputOptions.terminal}). */
  get terminal(): boolean {
    return this.#terminal;
  }

  /** True in interactive (prompt) mode. */
  get interactive(): boolean {
    return this.#prompt;
  }

  /**
   * Queues bytes for stdout (copied: the caller may reuse `data`). Resolves
   * at once while the batch has room, else once the batch is written.
   */
  write(data: Uint8Array | string): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed.error);
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    if (this.#len + bytes.length <= BATCH) {
      this.#buf.set(bytes, this.#len);
      this.#len += bytes.length;
      this.#scheduleFlush();
      return Promise.resolve();
    }
    return this.#writeLarge(bytes);
  }

  async #writeLarge(bytes: Uint8Array): Promise<void> {
    this.#seal();
    if (bytes.length < BATCH) {
      await this.flush();
      return this.write(bytes);
    }
    // Big pieces go as they are; waiting for them keeps `bytes` ours.
    this.#queue.push({ out: bytes });
    await this.#drain();
  }

  /** Moves the open batch into the queue. */
  #seal(): void {
    if (this.#len === 0) return;
    this.#queue.push({ out: this.#buf.subarray(0, this.#len) });
    this.#buf = new Uint8Array(BATCH);
    this.#len = 0;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setTimeout(() => {
      this.#flushScheduled = false;
      this.flush().catch(() => {});
    }, 0);
  }

  /** Writes the queue in order until it is empty; rejects on a write error. */
  #drain(): Promise<void> {
    this.#pump ??= this.#runPump().finally(() => this.#pump = null);
    return this.#pump;
  }

  async #runPump(): Promise<void> {
    for (;;) {
      const item = this.#queue.shift();
      if (item === undefined) return;
      if (item.err) {
        this.#writeStderr(item.err);
        continue;
      }
      if (this.#failed) continue; // stdout is gone; stderr lines still go
      try {
        await this.#writer.write(item.out!);
      } catch (e) {
        this.#failed = { error: e };
      }
    }
  }

  /**
   * Lets a line editor own the input line: every redraw of the prompt
   * shows `render()` (the half-typed text, cursor placed) after it.
   */
  attachEditor(render: () => string): void {
    this.#editorLine = render;
  }

  /**
   * The editor is gone (the session ended): take its line off the screen
   * so the shell's prompt does not land after a stale `> `.
   */
  detachEditor(): void {
    if (this.#editorLine === null) return;
    this.#editorLine = null;
    if (this.#promptShown) this.write(CLEAR_LINE).catch(() => {});
    this.#promptShown = false;
  }

  /** The input line as it belongs on screen: prompt and typed text. */
  #inputLine(): string {
    const typed = this.#editorLine?.() ?? "";
    return (this.#promptShown ? "> " : "") + typed;
  }

  /** The editor's line changed: redraw it in place. */
  redrawInput(): void {
    this.write(CLEAR_LINE + this.#inputLine()).catch(() => {});
  }

  /** Enter sent `text` (control-free): it stays, the prompt comes back later. */
  endInput(text: string): void {
    const prompt = this.#promptShown ? "> " : "";
    this.#promptShown = false;
    this.write(CLEAR_LINE + prompt + text + "\n").catch(() => {});
  }

  /** Shows the input prompt (interactive mode only). */
  async showPrompt(): Promise<void> {
    if (!this.#prompt) return;
    this.#promptShown = true;
    if (this.#editorLine === null) await this.write("> ");
    else await this.write(CLEAR_LINE + this.#inputLine());
  }

  /** Starts printing a received message. */
  async beginMessage(): Promise<void> {
    if (!this.#prompt) return;
    this.#promptShown = false;
    await this.write(CLEAR_LINE + "< ");
  }

  /** Ends a printed message with a newline (and a fresh prompt). */
  async endMessage(): Promise<void> {
    if (this.#prompt) this.#promptShown = true;
    await this.write(this.#prompt ? "\n" + this.#inputLine() : "\n");
  }

  /** A status line on stderr, unless quiet. */
  note(line: string): void {
    if (!this.#quiet) this.#stderrLine(`* ${line}`);
  }

  /** A protocol trace line on stderr (-v, -P), shown even when quiet. */
  trace(line: string): void {
    this.#stderrLine(line);
  }

  /** An error line on stderr, always shown. */
  error(line: string): void {
    this.#stderrLine(`wsnc: ${line}`);
  }

  /**
   * Every stderr line is escaped here, once for all callers: status text,
   * header names and values, close reasons and error messages carry text
   * the peer chose.
   */
  #stderrLine(line: string): void {
    const text = (this.#prompt ? CLEAR_LINE : "") + escapeControls(line, true) +
      "\n";
    const bytes = encoder.encode(text);
    if (this.#len > 0 || this.#queue.length > 0 || this.#pump !== null) {
      // Behind the stdout bytes written before it.
      this.#seal();
      this.#queue.push({ err: bytes });
      this.#drain().catch(() => {});
    } else {
      this.#writeStderr(bytes);
    }
    // The line took the prompt's place on screen: show the prompt (and
    // what was typed after it) again.
    const input = this.#prompt ? this.#inputLine() : "";
    if (input !== "") this.write(input).catch(() => {});
  }

  #writeStderr(bytes: Uint8Array): void {
    try {
      let off = 0;
      while (off < bytes.length) {
        off += this.#stderr.writeSync(bytes.subarray(off));
      }
    } catch {
      // stderr is gone; there is nobody left to tell.
    }
  }

  /**
   * Writes everything queued so far, in order; rejects when stdout failed
   * (a broken pipe), like the write that failed would have.
   */
  async flush(): Promise<void> {
    this.#seal();
    while (this.#queue.length > 0 || this.#pump !== null) await this.#drain();
    if (this.#failed) throw this.#failed.error;
  }

  /** Writes what is queued, then gives stdout back to another Output. */
  async release(): Promise<void> {
    await this.flush();
    await this.#writer.ready;
    this.#writer.releaseLock();
  }
}
