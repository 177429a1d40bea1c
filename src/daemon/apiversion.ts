/** The Engine API versions this daemon serves (the API layer negotiates with them). */
/**
 * The highest Engine API version the daemon serves (Docker 29's). A request at an older
 * version gets that version's shapes: src/api/apiversions.ts holds every difference.
 */
export const MAX_API_VERSION = '1.52';
/** The lowest one it accepts, as Docker 20.10 (Docker 29 itself accepts nothing below 1.44). */
export const MIN_API_VERSION = '1.24';
