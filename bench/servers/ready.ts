/**
 * How bench server processes report readiness and learn when to stop.
 *
 * @module
 */

/**
 * Prints the listening port as one JSON line on stdout (read by echo.ts),
 * then resolves when stdin closes: the parent closing our stdin, or dying,
 * is the signal to shut down, so no server outlives a benchmark run.
 */
export async function announceAndWaitForStdinEof(port: number): Promise<void> {
  console.log(JSON.stringify({ port }));
  const reader = Deno.stdin.readable.getReader();
  try {
    while (!(await reader.read()).done) {
      // Nothing is sent on stdin; read only to see it close.
    }
  } finally {
    reader.releaseLock();
  }
}
