/**
 * Fails when the source has an import cycle: between files, or between the folders of `lib/`
 * (each folder is one concern; a folder may use another only if that one does not use it back).
 * Reads the module graph of the entry points from `deno info --json`, static, dynamic and
 * type-only imports alike. Run by `deno task ok`.
 *
 *   deno run -A scripts/check_cycles.ts [FILE...]   (default: main.ts and every module of lib/, cli/)
 *
 * @module
 */

/** Folders whose every module is checked, reachable from an entry point or not. */
const SOURCE_DIRS = ["lib", "cli"];

function sourceFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(`${root}/${dir}`)) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...sourceFiles(root, rel));
    else if (e.name.endsWith(".ts")) out.push(rel);
  }
  return out;
}

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
}

/** The module graph of `roots` (files inside `root` only), from `deno info --json`. */
export async function moduleGraph(
  roots: string[],
  root: string,
): Promise<Map<string, Set<string>>> {
  const graph = new Map<string, Set<string>>();
  const base = new URL(`file://${root.replace(/\/?$/, "/")}`).href;
  // One graph for all roots: a module importing every root, outside the repository.
  const tmp = await Deno.makeTempDir({ prefix: "mlproject-cycles-" });
  const all = `${tmp}/all.ts`;
  await Deno.writeTextFile(
    all,
    roots.map((r) => `import ${JSON.stringify(new URL(r, base).href)};\n`).join(""),
  );
  try {
    const entry = all;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`deno info ${entry} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
    for (const m of info.modules) {
      if (!m.specifier.startsWith(base)) continue;
      const from = m.specifier.slice(base.length);
      const deps = graph.get(from) ?? new Set<string>();
      for (const d of m.dependencies ?? []) {
        for (const s of [d.code?.specifier, d.type?.specifier]) {
          if (s !== undefined && s.startsWith(base)) deps.add(s.slice(base.length));
        }
      }
      graph.set(from, deps);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
  return graph;
}

/** Strongly connected components with more than one node (or a self-loop): the cycles. */
export function cycles(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.has(v)) found.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return found;
}

/** The folder a file belongs to: `lib/<folder>` for files under a folder of `lib/`, else its top directory. */
export function folderOf(file: string): string {
  const parts = file.split("/");
  if (parts[0] === "lib" && parts.length > 2) return `lib/${parts[1]}`;
  return parts.length > 1 ? parts[0]! : ".";
}

/** The folder graph: an edge for every import between files of different folders. */
export function folderGraph(graph: Map<string, Set<string>>): Map<string, Set<string>> {
  const folders = new Map<string, Set<string>>();
  for (const [from, deps] of graph) {
    const f = folderOf(from);
    const set = folders.get(f) ?? new Set<string>();
    for (const d of deps) if (folderOf(d) !== f) set.add(folderOf(d));
    folders.set(f, set);
  }
  return folders;
}

function edgesWithin(graph: Map<string, Set<string>>, scc: string[], map = (s: string) => s) {
  const members = new Set(scc);
  const lines: string[] = [];
  for (const [from, deps] of graph) {
    if (!members.has(map(from))) continue;
    for (const d of deps) {
      if (members.has(map(d)) && map(d) !== map(from)) lines.push(`    ${from} → ${d}`);
    }
  }
  return lines.sort();
}

if (import.meta.main) {
  const root = new URL("..", import.meta.url).pathname;
  const roots = Deno.args.length > 0
    ? Deno.args
    : ["main.ts", ...SOURCE_DIRS.flatMap((d) => sourceFiles(root, d))];
  const graph = await moduleGraph(roots, root);
  const fileCycles = cycles(graph);
  const folderCycles = cycles(folderGraph(graph));
  const out = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(`${s}\n`));
  for (const c of fileCycles) out(`file cycle: ${c.join(" ↔ ")}`);
  for (const c of folderCycles) {
    out(`folder cycle: ${c.join(" ↔ ")}, through:`);
    for (const line of edgesWithin(graph, c, folderOf)) out(line);
  }
  if (fileCycles.length + folderCycles.length > 0) Deno.exit(1);
  out(`no import cycles (${graph.size} modules, ${folderGraph(graph).size} folders)`);
}
