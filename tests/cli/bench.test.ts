// `npm run bench`'s report: every line within 120 columns (bench/report.ts), checked on the bench's
// own tables with figures as large as a full run gives, without running the benchmark.
import { strict as assert } from "assert";
import type { EvalResult, IamResult, PhaseResult } from "../../bench/common";
import type { PlacementRow } from "../../bench/placement";
import { capacityTable, columns, evaluationTable, iamTable, placementTable, REPORT_COLUMNS, table, wrap, type CapacityRow } from "../../bench/report";

const lines = (text: string) => text.split("\n");
const widest = (text: string) => Math.max(...lines(text).map(columns));

function evalRun(profiles: number, extra: Partial<EvalResult> = {}): EvalResult {
    return {
        profiles,
        identityMode: "irsa",
        shards: Math.ceil(profiles / 17),
        sourceMappedStacks: false,
        loadAvg1: 12.3,
        resources: profiles + 608,
        trustSubjects: 300,
        loadMs: 12_345,
        evalMs: 123_456,
        maxRssAfterLoadMB: 1_234.5,
        maxRssMB: 12_345.6,
        heapUsedMB: 9_876.5,
        ...extra,
    };
}

/** A phase over 300 roles (5,000 profiles at quota 2048; the bench runs 21), every call counted, slow. */
function phase(name: string, programMs: number): PhaseResult {
    return {
        phase: name,
        programMs,
        wallMs: 99_999.9,
        trustSubjects: 300,
        checks: 300,
        diffs: 300,
        diffsWithChanges: 300,
        creates: 300,
        updates: 300,
        getRole: 90_000,
        updateAssumeRolePolicy: 30_000,
        rolesTouched: 300,
        rolesRead: 300,
        readsPerTouchedRole: 3,
        writesPerTouchedRole: 1,
        otherCalls: {},
    };
}

function capacityRow(maxChars: number): CapacityRow {
    return {
        maxChars,
        subjectLength: 45,
        formula: 161,
        builtN: 8166,
        builtN1: 8214,
        formulaExact: true,
        managedMax: 160,
        managedSizeAtMax: 8159,
        managedBuiltAtMax: 8159,
        managedBuiltAtMax1: 8207,
        managedExact: false,
        shards5000: 1_000,
        shards5000LowerBound: 1_000,
        shards5000Ms: 123_456,
    };
}

/** Placement figures as large as a full run could give (5,000 profiles at quota 2048). */
function placementRow(maxChars: number): PlacementRow {
    return {
        maxChars,
        profiles: 5000,
        room: 7700,
        perfect: 1_000,
        rendezvous: 1_000,
        rendezvousMs: 12_345.6,
        auto: 1_000,
        autoMs: 12_345.6,
        largest: 8192,
        changes: changeFigures(),
        growthAdded: 1_000,
        growthTo: 1_000,
        growthMoved: 5000,
        growthIntoNew: 5000,
        growthOverDuringMove: 1_000,
        firstLarge: [
            { moved: 5000, overDuringMove: 1_000 },
            { moved: 5000, overDuringMove: 1_000 },
        ],
        switchMoved: 5000,
        switchOverDuringMove: 1_000,
        mixedPerfect: 1_000,
        mixedAuto: 1_000,
        mixedChanges: changeFigures(),
        mixedSwitchFrom: 1_000,
        mixedSwitchMoved: 5000,
        mixedSwitchOverDuringMove: 1_000,
    };
}

/** Single-change figures as large as they could be. */
function changeFigures(): PlacementRow["changes"] {
    return { changes: 100, movesMean: 49.99, movesMax: 5000, countChanged: 100, countChangeMovesMax: 5000, changesOver: 100, overDuringChanges: 1_000 };
}

describe("npm run bench: report formatting", () => {
    it("GIVEN the evaluation table with 5,000-profile figures THEN every line fits 120 columns", () => {
        const pod = (n: number) => evalRun(n, { identityMode: "podIdentity", shards: 1, resources: 2 * n + 14 });
        const text = evaluationTable([evalRun(100), evalRun(1000), evalRun(5000), pod(1000), pod(5000), evalRun(1000, { sourceMappedStacks: true })]);
        assert.ok(widest(text) <= REPORT_COLUMNS, text);
        assert.match(text, /^ +5000 +irsa +295 +5608 /m);
        assert.match(text, /^ +5000 +pod +1 +10014 /m);
    });

    it("GIVEN the IAM table (149 columns unfolded) THEN its headers fold onto more lines and every line fits 120 columns", () => {
        const iam: Pick<IamResult, "phases"> = {
            phases: [phase("first up", 98_765), phase("unchanged up", 98_765), phase("one-profile change: preview", 98_765), phase("one-profile change: up", 0), phase("unchanged up after change", 98_765)],
        };
        const text = iamTable(iam as IamResult);
        assert.ok(widest(text) <= REPORT_COLUMNS, text);
        assert.ok(lines(text).findIndex((l) => /^ +-+/.test(l)) > 1, "the header takes more than one line");
        assert.match(text, /^ +one-profile change: up +\(same run\) /m);
        // Every header word is still there, in order, in its column.
        const header = lines(text).slice(0, lines(text).findIndex((l) => /^ +-+/.test(l)));
        for (const word of ["phase", "program", "provider", "check/", "changes", "create/", "update", "GetRole", "UpdateARP", "roles", "touched", "reads/", "writes/"]) {
            assert.ok(header.some((l) => l.includes(word)), `${word} in\n${header.join("\n")}`);
        }
    });

    it("GIVEN the capacity table at quotas 2048, 4096 and 8192 THEN every line fits 120 columns", () => {
        const text = capacityTable([capacityRow(2048), capacityRow(4096), capacityRow(8192)], 5000);
        assert.ok(widest(text) <= REPORT_COLUMNS, text);
        assert.match(text, /quota 2048 +quota 4096 +quota 8192$/m);
        assert.match(text, /^ +kf-user shards for 5,000 profiles \(shardsNeeded\) +1000 +1000 +1000$/m);
    });

    it("GIVEN the placement table at quotas 2048, 4096 and 8192 THEN every line fits 120 columns, with each ratio to the perfect packing", () => {
        const text = placementTable([placementRow(2048), placementRow(4096), placementRow(8192)]);
        assert.ok(widest(text) <= REPORT_COLUMNS, text);
        assert.match(text, /^ +userRoleShards: auto \(bounded loads\) +1000 \(1\.00×\) +1000 \(1\.00×\) +1000 \(1\.00×\)$/m);
        assert.match(text, /^ +one-profile change: moves mean \/ max +49\.99 \/ 5000 /m);
        assert.match(text, /^ +mix, 1 in 7 of 2–3 SAs: perfect \/ auto +1000 \/ 1000 \(1\.00×\) /m);
    });

    it("GIVEN a table that fits THEN it is one header line, aligned: numbers right, text left", () => {
        assert.equal(table(["name", "n"], [["a", 1], ["bbb", 22]]), ["  name   n", "  ----  --", "  a      1", "  bbb   22"].join("\n"));
    });

    it("GIVEN a header that cannot fold further THEN the table is as narrow as it can be and keeps every cell whole", () => {
        const text = table(["x".repeat(70), "y".repeat(70)], [["1", "2"]]);
        assert.deepEqual(lines(text).map((l) => l.length), [144, 144, 144]);
    });

    it("GIVEN prose longer than 120 columns THEN wrap folds it at words, hanging continuation lines, counting bytes", () => {
        const text = `  ${"lorem ipsum dolor — sit amet ".repeat(12).trim()}`;
        const wrapped = wrap(text);
        assert.ok(widest(wrapped) <= REPORT_COLUMNS, wrapped);
        assert.ok(lines(wrapped).slice(1).every((l) => l.startsWith("    ") && !l.startsWith("     ")));
        assert.equal(wrapped.replace(/\n +/g, " "), text);
        assert.equal(wrap("short"), "short");
    });
});
