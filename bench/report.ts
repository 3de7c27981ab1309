// Formatting of the benchmark's report (bench/run.ts): its tables and prose, kept within
// REPORT_COLUMNS so a terminal, a CI log or a pasted issue shows each line whole. Pure, so a
// test checks the widths on the bench's own tables without running the benchmark.

import type { EvalResult, IamResult } from "./common";
import type { PlacementRow } from "./placement";

/** The widest line the report prints. */
export const REPORT_COLUMNS = 120;

/**
 * A line's width as byte-counting tools see it (UTF-8 bytes: `awk length` in the C locale, `wc
 * -L` on some systems); never less than its characters, so a line that fits by this fits anywhere.
 */
export const columns = (line: string) => Buffer.byteLength(line, "utf8");

const round = (n: number, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits;
export const fmt = (n: number, digits = 0) => round(n, digits).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/**
 * Words of a header, and the places it may break: at spaces, and after a "/" ("check/diff/changes"
 * breaks as "check/", "diff/", "changes").
 */
function headerWords(header: string): string[] {
    return header.split(" ").flatMap((word) => word.split(/(?<=\/)/)).filter((w) => w !== "");
}

/** A header folded into lines of at most `width` (a word longer than that keeps its own line). */
function foldHeader(header: string, width: number): string[] {
    const lines: string[] = [];
    let line = "";
    for (const word of headerWords(header)) {
        const joined = line === "" ? word : line.endsWith("/") ? line + word : `${line} ${word}`;
        if (line !== "" && joined.length > width) {
            lines.push(line);
            line = word;
        } else {
            line = joined;
        }
    }
    return [...lines, line];
}

export interface TableOptions {
    /** Per column; by default a column is right-aligned when every cell is a number or starts with a digit or sign. */
    rightAligned?: boolean[];
    /** @default REPORT_COLUMNS */
    maxColumns?: number;
    /** @default "  " */
    indent?: string;
}

/**
 * An aligned text table with a dashed rule under the header. When it would be wider than
 * `maxColumns`, the headers with the most to give are folded onto several lines (never a data
 * cell), until it fits or no header can fold further.
 */
export function table(headers: string[], rows: (string | number)[][], options: TableOptions = {}): string {
    const { maxColumns = REPORT_COLUMNS, indent = "  " } = options;
    const cells = rows.map((r) => r.map(String));
    const right = options.rightAligned ?? headers.map((_, i) => rows.every((r) => typeof r[i] === "number" || /^[\d~≤≥<>=.,+-]/.test(String(r[i]))));
    const dataWidth = headers.map((_, i) => Math.max(0, ...cells.map((r) => (r[i] ?? "").length)));
    const minWidth = headers.map((h, i) => Math.max(dataWidth[i], ...headerWords(h).map((w) => w.length)));
    const widths = headers.map((h, i) => Math.max(dataWidth[i], h.length));
    const total = () => indent.length + widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
    // Narrow the column with the most to give, a little at a time, so the folds spread over the
    // widest headers instead of cutting one header down to a word per line.
    while (total() > maxColumns) {
        const slack = widths.map((w, i) => w - minWidth[i]);
        const i = slack.indexOf(Math.max(...slack));
        if (slack[i] <= 0) break;
        widths[i] = Math.max(minWidth[i], ...foldHeader(headers[i], widths[i] - 1).map((l) => l.length));
    }
    const folded = headers.map((h, i) => foldHeader(h, widths[i]));
    const height = Math.max(...folded.map((f) => f.length));
    // Header lines are bottom-aligned, so the last header line sits on the rule.
    const headerLines = Array.from({ length: height }, (_, k) => folded.map((f) => f[k - (height - f.length)] ?? ""));
    const line = (r: string[]) => indent + r.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
    return [...headerLines.map(line), indent + widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

/**
 * Prose folded at word boundaries to `maxColumns`; continuation lines keep the first line's
 * indentation plus `hang` (a list item reads as one).
 */
export function wrap(text: string, maxColumns = REPORT_COLUMNS, hang = "  "): string {
    return text
        .split("\n")
        .map((paragraph) => {
            if (columns(paragraph) <= maxColumns) return paragraph;
            const indent = /^\s*/.exec(paragraph)![0];
            const lines: string[] = [];
            let line = indent;
            for (const word of paragraph.slice(indent.length).split(" ")) {
                const next = line.trim() === "" ? line + word : `${line} ${word}`;
                if (line.trim() !== "" && columns(next) > maxColumns) {
                    lines.push(line);
                    line = `${indent}${hang}${word}`;
                } else {
                    line = next;
                }
            }
            return [...lines, line].join("\n");
        })
        .join("\n");
}

// ---- the bench's tables ----

export function evaluationTable(runs: EvalResult[]): string {
    return table(
        ["profiles", "mode", "shards", "resources", "load ms", "eval ms", "ms/profile", "RSS after load MB", "peak RSS MB", "heap MB", "load avg"],
        runs.map((e) => [
            e.sourceMappedStacks ? `${e.profiles} (†)` : e.profiles,
            e.identityMode === "podIdentity" ? "pod" : "irsa",
            e.shards,
            e.resources,
            fmt(e.loadMs),
            fmt(e.evalMs),
            fmt(e.evalMs / e.profiles, 2),
            fmt(e.maxRssAfterLoadMB),
            fmt(e.maxRssMB),
            fmt(e.heapUsedMB),
            fmt(e.loadAvg1, 1),
        ]),
    );
}

export function iamTable(iam: IamResult): string {
    return table(
        ["phase", "program ms", "provider ms", "check/diff/changes", "create/update", "GetRole", "UpdateARP", "roles touched", "reads/role", "writes/role"],
        iam.phases.map((p) => [
            p.phase,
            p.programMs ? fmt(p.programMs) : "(same run)",
            fmt(p.wallMs, 1),
            `${p.checks}/${p.diffs}/${p.diffsWithChanges}`,
            `${p.creates}/${p.updates}`,
            p.getRole,
            p.updateAssumeRolePolicy,
            p.rolesTouched,
            p.rolesTouched ? fmt(p.readsPerTouchedRole, 1) : "-",
            p.rolesTouched ? fmt(p.writesPerTouchedRole, 1) : "-",
        ]),
        { rightAligned: [false, true, true, true, true, true, true, true, true, true] },
    );
}

export interface CapacityRow {
    maxChars: number;
    subjectLength: number;
    /** subjectsThatFit(): the project's formula. */
    formula: number;
    /** Minified size of buildTrustPolicy() with N and N+1 subjects. */
    builtN: number;
    builtN1: number;
    formulaExact: boolean;
    /** Subjects (plus the kf-user anchor) in a managed role: managedPolicySize() and the real edited document. */
    managedMax: number;
    managedSizeAtMax: number;
    managedBuiltAtMax: number;
    managedBuiltAtMax1: number;
    managedExact: boolean;
    /** kf-user shards for the capacity profiles: shardsNeeded(), and the bin-packing lower bound. */
    shards5000: number;
    shards5000LowerBound: number;
    shards5000Ms: number;
}

export function capacityTable(rows: CapacityRow[], profiles: number): string {
    const col = (f: (r: CapacityRow) => string | number) => rows.map(f);
    return table(
        ["", ...rows.map((r) => `quota ${r.maxChars}`)],
        [
            ["subjectsThatFit(arn, 45, quota) = N", ...col((r) => r.formula)],
            ["buildTrustPolicy size, N / N+1 subjects", ...col((r) => `${r.builtN} / ${r.builtN1}`)],
            ["N exact (N fits, N+1 does not)", ...col((r) => (r.formulaExact ? "yes" : "NO"))],
            ["managed role: anchor + M subjects, M", ...col((r) => r.managedMax)],
            ["managedPolicySize / real document at M", ...col((r) => `${r.managedSizeAtMax} / ${r.managedBuiltAtMax}`)],
            ["real document at M+1", ...col((r) => r.managedBuiltAtMax1)],
            ["M exact", ...col((r) => (r.managedExact ? "yes" : "NO"))],
            [`kf-user shards for ${fmt(profiles)} profiles (shardsNeeded)`, ...col((r) => r.shards5000)],
            ["  perfect-packing lower bound", ...col((r) => r.shards5000LowerBound)],
            ["  shardsNeeded() ms", ...col((r) => fmt(r.shards5000Ms))],
        ],
        { rightAligned: [false, ...rows.map(() => true)] },
    );
}

export function placementTable(rows: PlacementRow[]): string {
    const col = (f: (r: PlacementRow) => string | number) => rows.map(f);
    const ratio = (n: number, perfect: number) => `${n} (${fmt(n / perfect, 2)}×)`;
    const changeLines = (label: string, f: (r: PlacementRow) => PlacementRow["changes"]): (string | number)[][] => [
        [`${label}: moves mean / max`, ...col((r) => `${fmt(f(r).movesMean, 2)} / ${f(r).movesMax}`)],
        ["  moving the count: how many, most moves", ...col((r) => `${f(r).countChanged} of ${f(r).changes}, ${f(r).countChangeMovesMax}`)],
        ["  with a role over quota while moves drain", ...col((r) => `${f(r).changesOver} (${f(r).overDuringChanges} roles)`)],
    ];
    return table(
        ["", ...rows.map((r) => `quota ${r.maxChars}`)],
        [
            ["room per role besides the anchor (chars)", ...col((r) => r.room)],
            [`perfect packing for ${fmt(rows[0]?.profiles ?? 0)} profiles (roles)`, ...col((r) => r.perfect)],
            ["explicit count that fits (rendezvous)", ...col((r) => ratio(r.rendezvous, r.perfect))],
            ["userRoleShards: auto (bounded loads)", ...col((r) => ratio(r.auto, r.perfect))],
            ["  fullest role under auto (chars)", ...col((r) => r.largest)],
            ["  placement ms: auto / rendezvous count", ...col((r) => `${fmt(r.autoMs)} / ${fmt(r.rendezvousMs)}`)],
            ...changeLines("one-profile change", (r) => r.changes),
            ["growth by one role: profiles added first", ...col((r) => r.growthAdded)],
            ["  moved / of them into the new role", ...col((r) => `${r.growthMoved} / ${r.growthIntoNew}`)],
            ["  roles over the quota while moves drain", ...col((r) => r.growthOverDuringMove)],
            ["first profile of 2 / 3 SAs: moved", ...col((r) => r.firstLarge.map((f) => f.moved).join(" / "))],
            ["  roles over the quota while moves drain", ...col((r) => r.firstLarge.map((f) => f.overDuringMove).join(" / "))],
            ["explicit count → auto: profiles moved", ...col((r) => r.switchMoved)],
            ["  roles over the quota while moves drain", ...col((r) => r.switchOverDuringMove)],
            ["mix, 1 in 7 of 2–3 SAs: perfect / auto", ...col((r) => `${r.mixedPerfect} / ${ratio(r.mixedAuto, r.mixedPerfect)}`)],
            ...changeLines("  one-profile change", (r) => r.mixedChanges),
            ["  explicit count → auto: from, profiles moved", ...col((r) => `${r.mixedSwitchFrom}, ${r.mixedSwitchMoved}`)],
            ["    roles over quota while moves drain", ...col((r) => r.mixedSwitchOverDuringMove)],
        ],
        { rightAligned: [false, ...rows.map(() => true)] },
    );
}
