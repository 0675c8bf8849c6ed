// What "shaped like a JWT" means wherever the gateway looks for token text outside the Authorization header (a
// cookie, a path it records): two base64url runs of JSON (`ey…`, the encoding of `{"` or `{ `) joined by a dot,
// written or percent-encoded, and optionally the signature. Anchored at the start of a base64url run, so a word that
// merely contains "ey" (`surveyJobs`) is not one, and linear in the input (each run is scanned once).

const SOURCE = '(?<![A-Za-z0-9_-])ey[A-Za-z0-9_-]{8,}(?:\\.|%2[eE])ey[A-Za-z0-9_-]{8,}(?:(?:\\.|%2[eE])[A-Za-z0-9_-]*)?';

/** Whether the text holds something shaped like a JWT. */
export const JWT_SHAPED = new RegExp(SOURCE);
/** The same, for replace() (which starts from 0 and resets lastIndex itself, so one instance serves every call). */
const JWT_SHAPED_ALL = new RegExp(SOURCE, 'g');

/** Replace everything shaped like a JWT in the text with `[token]`. */
export function redactJwts(text: string): string {
  return text.includes('ey') ? text.replace(JWT_SHAPED_ALL, '[token]') : text;
}
