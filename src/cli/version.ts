/**
 * The CLI's version.
 *
 * @module
 */

/** Version printed by `--version`; keep in sync with `deno.json`'s "version". */
export const VERSION = "0.1.0";
