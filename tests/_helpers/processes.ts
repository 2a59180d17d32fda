/** Live (non-zombie) processes whose process group is `pgid`, read from /proc. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] !== "Z" && Number(fields[2]) === pgid) members.push(Number(entry.name));
  }
  return members;
}

/** Whether a process exists and is not a zombie waiting to be reaped. */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** A process's memory from /proc: peak (`VmHWM`) and current (`VmRSS`) resident size, KiB. */
export interface MemoryKiB {
  hwm: number;
  rss: number;
}

let ownCmdline: string | undefined;

/**
 * The memory of a child this process spawned, once it runs its own program: until its `exec`,
 * a forked child still shows this process's memory (and command line), so that sample is skipped.
 * `undefined` also for a zombie or a process that is gone.
 *
 * @example
 * ```ts
 * import { childMemoryKiB } from "./processes.ts";
 * console.assert(childMemoryKiB(Deno.pid) === undefined); // this process, not a child's program
 * ```
 */
export function childMemoryKiB(pid: number): MemoryKiB | undefined {
  try {
    ownCmdline ??= Deno.readTextFileSync("/proc/self/cmdline");
    if (Deno.readTextFileSync(`/proc/${pid}/cmdline`) === ownCmdline) return undefined;
    const text = Deno.readTextFileSync(`/proc/${pid}/status`);
    const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(text);
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
    // A zombie has no memory lines.
    if (hwm === null || rss === null) return undefined;
    return { hwm: Number(hwm[1]), rss: Number(rss[1]) };
  } catch {
    return undefined;
  }
}
