/**
 * Default limits that more than one part applies, in one place.
 *
 * @module
 */

/** The default `maxMessageSize`: whole messages (and inflated ones) up to 64 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

/** The default `closeTimeout`: how long a close waits for the peer, in ms. */
export const DEFAULT_CLOSE_TIMEOUT = 5000;
