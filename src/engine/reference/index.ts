/** Docker image references: grammar, parsing, normalisation and familiar display. */
export * from './reference';
export * from './digest';
export { anchoredDomainRegexp, anchoredTagRegexp } from './grammar';
