/**
 * Keeping secrets out of what is recorded or printed: user info of URLs (`https://user:token@host`)
 * is removed before a URL reaches a tag, a log line or an error message.
 *
 * @module
 */

const URL_USERINFO_RE = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]*)@/gi;

/**
 * Removes credentials from a URL. For `http(s)://` the whole user info goes (a token is often
 * the user name); for other schemes (`ssh://git@host`, `git@host:org/repo`) only a password is
 * removed, since the user name is not a secret there.
 *
 * Works on any text too: every URL inside it is cleaned (git's error output, messages).
 *
 * @param url A URL, scp-style git address, or text containing URLs.
 * @returns The same without credentials.
 *
 * @example
 * ```ts
 * import { stripCredentials } from "./url_credentials.ts";
 * console.assert(stripCredentials("https://u:t@h/r.git") === "https://h/r.git");
 * console.assert(stripCredentials("ssh://git:pw@h/r.git") === "ssh://git@h/r.git");
 * ```
 */
export function stripCredentials(url: string): string {
  return url.replace(URL_USERINFO_RE, (_all, scheme: string, info: string) => {
    if (/^https?:\/\/$/i.test(scheme)) return scheme;
    const colon = info.indexOf(":");
    return colon === -1 ? `${scheme}${info}@` : `${scheme}${info.slice(0, colon)}@`;
  });
}
