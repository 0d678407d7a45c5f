/**
 * Where the CLI writes: message data to stdout, everything else to stderr,
 * and on a terminal the `> ` / `< ` prompts.
 *
 * @module
 */

const encoder = new TextEncoder();
/** Return to column 0 and clear the line: makes room for an incoming message. */
const CLEAR_LINE = "\r\x1b[K";

/** Options of {@linkcode Output}. */
export interface OutputOptions {
  /** Show `> ` for input and `< ` before received messages (interactive use). */
  prompt: boolean;
  /** Suppress status notes (errors are still printed). */
  quiet: boolean;
}

/** A byte sink for diagnostics, e.g. `Deno.stderr`. */
export interface SyncSink {
  writeSync(p: Uint8Array): number;
}

/**
 * Serializes writes to stdout (each awaited, so a slow reader slows the
 * connection down) and writes status lines to stderr.
 */
export class Output {
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #stderr: SyncSink;
  #prompt: boolean;
  #quiet: boolean;

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
  }

  /** True in interactive (prompt) mode. */
  get interactive(): boolean {
    return this.#prompt;
  }

  /** Writes bytes to stdout; resolves once they are written. */
  async write(data: Uint8Array | string): Promise<void> {
    await this.#writer.write(
      typeof data === "string" ? encoder.encode(data) : data,
    );
  }

  /** Shows the input prompt (interactive mode only). */
  async showPrompt(): Promise<void> {
    if (this.#prompt) await this.write("> ");
  }

  /** Starts printing a received message. */
  async beginMessage(): Promise<void> {
    if (this.#prompt) await this.write(CLEAR_LINE + "< ");
  }

  /** Ends a printed message with a newline (and a fresh prompt). */
  async endMessage(): Promise<void> {
    await this.write(this.#prompt ? "\n> " : "\n");
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

  #stderrLine(line: string): void {
    const text = (this.#prompt ? CLEAR_LINE : "") + line + "\n";
    const bytes = encoder.encode(text);
    try {
      let off = 0;
      while (off < bytes.length) {
        off += this.#stderr.writeSync(bytes.subarray(off));
      }
    } catch {
      // stderr is gone; there is nobody left to tell.
    }
  }

  /** Waits for pending stdout writes; a broken stdout was already reported by write(). */
  async flush(): Promise<void> {
    await this.#writer.ready.catch(() => {});
  }

  /** Gives stdout back, so that another Output can write to it. */
  async release(): Promise<void> {
    await this.#writer.ready;
    this.#writer.releaseLock();
  }
}
