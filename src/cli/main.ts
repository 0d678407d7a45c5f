/**
 * The CLI's entry point: parse flags, set up stdin/stdout and SIGINT, run
 * client or listen mode, return the exit code.
 *
 * @module
 */

import { parseCommandLine } from "./args.ts";
import type { ModeContext } from "./client.ts";
import { bridgeOwnsStdio } from "./bridge/flags.ts";
import { runClientMode } from "./bridge/modes.ts";
import { ExitCode, reportError } from "./exit.ts";
import { helpText } from "./help.ts";
import { type InputMode, InputSource } from "./input.ts";
import {
  checkHistoryPermission,
  startTerminalEditor,
  type TerminalEditor,
} from "./line_editor.ts";
import { runListen } from "./listen.ts";
import { Output } from "./output.ts";
import { VERSION } from "./version.ts";

function isTerminal(stream: { isTerminal(): boolean }): boolean {
  try {
    return stream.isTerminal();
  } catch {
    return false;
  }
}

/**
 * Runs the CLI with `args` (without the program name) and returns the exit
 * code. A first SIGINT closes politely; a second exits at once with 130.
 */
export async function main(args: string[]): Promise<number> {
  const quietOut = new Output(Deno.stdout.writable, Deno.stderr, {
    prompt: false,
    quiet: false,
  });
  let cfg;
  try {
    cfg = parseCommandLine(args);
    if (cfg.history !== undefined) checkHistoryPermission(cfg.history);
  } catch (e) {
    const report = reportError(e);
    for (const line of report.lines) quietOut.error(line);
    quietOut.error("try --help");
    return report.code;
  }
  if (cfg.help) {
    await quietOut.write(helpText());
    await quietOut.flush();
    return ExitCode.OK;
  }
  if (cfg.version) {
    await quietOut.write(`wsnc ${VERSION}\n`);
    await quietOut.flush();
    return ExitCode.OK;
  }

  const lineMode = !cfg.binary && !cfg.raw && !cfg.json && !cfg.base64;
  const prompt = lineMode && !cfg.oneMessage &&
    isTerminal(Deno.stdin) && isTerminal(Deno.stdout);
  // main() owns stdout from here on: release the writer of the first Output.
  await quietOut.release();
  const output = new Output(Deno.stdout.writable, Deno.stderr, {
    prompt,
    quiet: cfg.quiet,
    terminal: isTerminal(Deno.stdout),
  });
  const mode: InputMode = cfg.oneMessage
    ? "all"
    : cfg.binary || cfg.raw
    ? "chunks"
    : "lines";
  const usesStdin = !cfg.echo && !bridgeOwnsStdio(cfg.bridge);
  // A person at a terminal gets a line editor; pipes are read as they are.
  let editor: TerminalEditor | null = null;
  if (usesStdin && prompt) {
    editor = startTerminalEditor(output, {
      historyFile: cfg.history,
      onInterrupt: () => onSigint(),
    });
    output.attachEditor(editor.render);
  }
  const input = usesStdin
    ? new InputSource(
      editor?.readable ?? Deno.stdin.readable,
      mode,
      cfg.chunkSize,
    )
    : null;
  const ctx: ModeContext = { input, output, onInterrupt: null };

  let interrupts = 0;
  function onSigint() {
    interrupts++;
    if (interrupts > 1 || ctx.onInterrupt === null) {
      Deno.exit(ExitCode.INTERRUPTED);
    }
    ctx.onInterrupt();
  }
  Deno.addSignalListener("SIGINT", onSigint);
  try {
    const code = cfg.mode === "listen"
      ? await runListen(cfg, ctx)
      : await runClientMode(cfg, ctx);
    await output.flush();
    return code;
  } catch (e) {
    // Never a stack trace: whatever escaped the modes is one line too.
    const report = reportError(e);
    for (const line of report.lines) output.error(line);
    return report.code;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    // Never leave the terminal raw.
    editor?.close();
    output.detachEditor();
    // The process exits next: what is still queued (stderr too) goes first.
    await output.flush().catch(() => {});
  }
}
