// The sizes and limits of the HTTP/2 front, in one place.

/** The window every stream and the connection start with (RFC 9113 6.9.2). */
export const DEFAULT_WINDOW = 65_535;
/** The largest flow-control window (RFC 9113 6.9.1). */
export const MAX_WINDOW = 2 ** 31 - 1;
/** Receive windows granted to the client: per stream (in SETTINGS) and for the connection. */
export const STREAM_WINDOW = 1 << 20;
export const CONN_WINDOW = 16 << 20;
/**
 * A stream's consumed bytes are granted back once this many gathered: half the default window, so a
 * client that has not yet applied our SETTINGS (and still counts 65,535) never waits for us.
 */
export const GRANT_AT = 32 * 1024;
/** Answer bytes a stream may have waiting for window before its client's window is held. */
export const LOCAL_BACKLOG = 1 << 20;
/** A header block (HEADERS plus CONTINUATIONs) larger than this ends the connection. */
export const MAX_HEADER_BLOCK = 1 << 20;
/** Reading from the client pauses while more than this is waiting to be written to it. */
export const MAX_UNWRITTEN = 16 << 20;
/** How many streams closed after the client's END_STREAM are remembered. */
export const ENDED_KEPT = 16;
