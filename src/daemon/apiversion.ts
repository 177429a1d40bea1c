/** The Engine API versions this daemon serves (the API layer negotiates with them). */
/** The highest Engine API version the daemon fully implements (Docker 20.10). */
export const MAX_API_VERSION = '1.41';
/** The lowest one it accepts, as Docker 20.10. */
export const MIN_API_VERSION = '1.24';
