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

/** A git remote URL split into what git may see and the credentials it must not. */
export interface SplitCredentials {
  /** The URL without a password, and for `http(s)://` without any user info. */
  url: string;
  /** `scheme://host[:port]` of an `http(s)://` URL (where the credentials apply). */
  origin?: string;
  /** User name from an `http(s)://` URL (percent-decoded). */
  username?: string;
  /** Password from an `http(s)://` URL (percent-decoded). */
  password?: string;
  /** Whether a password was removed from a URL whose protocol cannot use one (ssh, git). */
  droppedPassword: boolean;
}

const REMOTE_URL_RE = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*@)?([^/?#]*)(.*)$/is;

function decodeInfo(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * Splits credentials out of a git remote URL so they can be handed to git outside argv (a
 * process's arguments are visible to every user through `ps`). `http(s)://user:pw@host/r` gives
 * `http(s)://host/r` plus the user name and password; for other schemes (`ssh://user:pw@host`)
 * only the password is removed, since ssh never takes one from a URL.
 *
 * @param url A git remote URL.
 * @returns The URL git may see and the credentials.
 *
 * @example
 * ```ts
 * import { splitCredentials } from "./url_credentials.ts";
 * const s = splitCredentials("https://bot:p%40ss@h:8443/r.git");
 * console.assert(s.url === "https://h:8443/r.git" && s.password === "p@ss");
 * console.assert(s.origin === "https://h:8443" && s.username === "bot");
 * console.assert(splitCredentials("ssh://git:pw@h/r.git").url === "ssh://git@h/r.git");
 * ```
 */
export function splitCredentials(url: string): SplitCredentials {
  const m = REMOTE_URL_RE.exec(url);
  if (m === null || m[2] === undefined) return { url, droppedPassword: false };
  const [, scheme, userinfo, host, rest] = m as unknown as [string, string, string, string, string];
  const info = userinfo.slice(0, -1);
  const colon = info.indexOf(":");
  const user = colon === -1 ? info : info.slice(0, colon);
  if (/^https?$/i.test(scheme)) {
    const out: SplitCredentials = {
      url: `${scheme}://${host}${rest}`,
      origin: `${scheme.toLowerCase()}://${host}`,
      droppedPassword: false,
    };
    if (user !== "" || colon !== -1) out.username = decodeInfo(user);
    if (colon !== -1) out.password = decodeInfo(info.slice(colon + 1));
    return out;
  }
  return {
    url: `${scheme}://${user === "" ? "" : `${user}@`}${host}${rest}`,
    droppedPassword: colon !== -1,
  };
}
