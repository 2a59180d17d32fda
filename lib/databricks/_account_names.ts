/**
 * User and group names of numeric ids, as Python's `pwd.getpwuid(uid)[0]` and
 * `grp.getgrgid(gid)[0]` give them to `tarfile` (empty when unknown): `/etc/passwd` and
 * `/etc/group` first, then `getent` for directory services (LDAP, sssd), then `id -nu` for users.
 *
 * @module
 */
import { runCommand } from "../system/run_command.ts";

function fromFile(path: string, id: number): string | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    if (fields.length >= 3 && fields[0] !== "" && fields[2] === String(id)) return fields[0];
  }
  return undefined;
}

async function fromCommand(command: string, args: string[]): Promise<string | undefined> {
  const out = await runCommand(command, args, { env: { PATH: Deno.env.get("PATH") ?? "" } });
  if (!out.success) return undefined;
  const name = out.stdout.trim().split(":")[0];
  return name !== undefined && name !== "" ? name : undefined;
}

/** Caches the names of the ids seen while building one archive. */
export class AccountNames {
  #users = new Map<number, Promise<string>>();
  #groups = new Map<number, Promise<string>>();

  /**
   * The user name of a uid.
   *
   * @param uid A numeric user id.
   * @returns Its name, or `""`.
   */
  user(uid: number): Promise<string> {
    let name = this.#users.get(uid);
    if (name === undefined) {
      name = (async () =>
        fromFile("/etc/passwd", uid) ??
          await fromCommand("getent", ["passwd", String(uid)]) ??
          await fromCommand("id", ["-nu", String(uid)]) ?? "")();
      this.#users.set(uid, name);
    }
    return name;
  }

  /**
   * The group name of a gid.
   *
   * @param gid A numeric group id.
   * @returns Its name, or `""`.
   */
  group(gid: number): Promise<string> {
    let name = this.#groups.get(gid);
    if (name === undefined) {
      name = (async () =>
        fromFile("/etc/group", gid) ?? await fromCommand("getent", ["group", String(gid)]) ??
          "")();
      this.#groups.set(gid, name);
    }
    return name;
  }
}
