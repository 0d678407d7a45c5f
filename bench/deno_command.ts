/**
 * Picks the command used to start Deno subprocesses.
 *
 * @module
 */

/**
 * Returns `Deno.execPath()` when this process may run it, else `"deno"`.
 *
 * Why: `--allow-run=deno` grants the `deno` found on PATH as named, and when
 * that is a symlink (as /usr/bin/deno -> /usr/lib/node_modules/deno/deno is
 * on the npm install) the resolved `Deno.execPath()` is not covered by it.
 */
export function denoCommand(): string {
  const exec = Deno.execPath();
  const status = Deno.permissions.querySync({ name: "run", command: exec });
  return status.state === "granted" ? exec : "deno";
}

/**
 * The `--allow-run` value a child needs to start Deno in turn: both the name
 * and the resolved binary, so the child's own {@linkcode denoCommand} works.
 */
export function allowRunDenoFlag(): string {
  return `--allow-run=deno,${Deno.execPath()}`;
}
