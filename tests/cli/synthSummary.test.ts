// `npm run synth` (cli/synthSummary.ts): the comparison with the previous run's summary.json in the
// same output directory — renamed and removed profiles, and profiles moved to another role (also by
// userRoleShards auto's placement).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { stringify as toYaml } from "yaml";
import type { Summary } from "../../cli/synth";
import { assertOk, project, read, readJson, removeTmpDirs, synth, tmpDir } from "../support/synth";
import { policySize } from "../../domain/trustPolicy";

describe("npm run synth", function () {
    this.timeout(30_000);

    after(removeTmpDirs);

    describe("GIVEN a previous synth in the output directory WHEN profiles are renamed or removed", () => {
        const base = { "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf-ren", "kubeflow-irsa:kubeflowInstalled": "false" };
        const profile = (name: string) => ({ name, owner: `${name}@example.com` });
        let dir: string;
        let out: string;
        const stackFile = (config: Record<string, unknown>) => fs.writeFileSync(path.join(dir, "Pulumi.ren.yaml"), toYaml({ config: { ...base, ...config } }));
        before(async () => {
            dir = project("ren", { ...base, "kubeflow-irsa:profiles": [profile("team-a"), profile("team-nlp")] });
            out = tmpDir("ren");
            const first = await synth("--stack", "ren", "--project-dir", dir, "--out", out);
            assertOk(first);
            assert.equal(readJson<Summary>(out, "summary.json").changes, undefined, "nothing to compare with on the first run");
            assert.doesNotMatch(first.stdout, /new namespaces|removed from config|unchanged since/);
        });

        it("THEN a rename shows the new namespace, and the old one as removed from config and retained in the cluster (the default)", async () => {
            stackFile({ "kubeflow-irsa:profiles": [profile("team-a"), profile("team-language")] });
            const result = await synth("--stack", "ren", "--project-dir", dir, "--out", out);
            assertOk(result);
            assert.match(result.stdout, /^ {2}new namespaces: team-language$/m);
            assert.match(result.stdout, /^ {2}removed from config: team-nlp \(retained in the cluster: Profile and namespace stay, IAM trust removed\)$/m);
            const { changes } = readJson<Summary>(out, "summary.json");
            assert.deepEqual(changes && [changes.newNamespaces, changes.removedFromConfig, changes.removedProfiles], [["team-language"], ["team-nlp"], "retained"]);
            assert.match(changes!.note, /kubeflow-irsa:deleteRemovedProfiles is false/);
        });

        it("THEN with deleteRemovedProfiles true a removed profile is reported as deleted with its namespace", async () => {
            stackFile({ "kubeflow-irsa:profiles": [profile("team-language")], "kubeflow-irsa:deleteRemovedProfiles": true, "kubeflow-irsa:kubeflowInstalled": true });
            const result = await synth("--stack", "ren", "--project-dir", dir, "--out", out);
            assertOk(result);
            assert.doesNotMatch(result.stdout, /new namespaces/);
            assert.match(result.stdout, /^ {2}removed from config: team-a \(deleted: Kubeflow deletes the namespace and everything in it\)$/m);
            const { changes } = readJson<Summary>(out, "summary.json");
            assert.deepEqual(changes && [changes.newNamespaces, changes.removedFromConfig, changes.removedProfiles], [[], ["team-a"], "deleted"]);
        });
    });

    it("GIVEN a previous synth WHEN userRoleShards grows THEN each moved profile is listed as draining on its old role; with finishMoves as finished", async () => {
        const teams = ["team-a", "team-b", "team-c", "team-d", "team-e", "team-f"].map((name) => ({ name, owner: `${name}@example.com` }));
        const base = { "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf-mv", "kubeflow-irsa:kubeflowInstalled": "true", "kubeflow-irsa:profiles": teams };
        const dir = project("mv", base);
        const out = tmpDir("mv");
        assertOk(await synth("--stack", "mv", "--project-dir", dir, "--out", out));
        const grown = await synth("--stack", "mv", "--project-dir", dir, "--out", out, "--config", "userRoleShards=2");
        assertOk(grown);
        const { changes, profiles } = readJson<Summary>(out, "summary.json");
        const moved = profiles.filter((p) => p.roleArn.endsWith("kf-user-us-west-2-kf-mv-1")).map((p) => p.name);
        assert.ok(moved.length > 0, "the fixture moves a profile");
        assert.deepEqual(changes!.moves.map((m) => [m.profile, m.oldRole]), moved.map((n) => [n, "draining"]));
        for (const name of moved) {
            assert.match(grown.stdout, new RegExp(`^ {2}moved: ${name} kf-user-us-west-2-kf-mv → kf-user-us-west-2-kf-mv-1 \\(draining: after up kf-user-us-west-2-kf-mv keeps trusting it.*finishMoves\\)$`, "m"));
        }
        // Compared with the previous synth (already grown) nothing moves; against the first one, finishMoves finishes.
        fs.writeFileSync(path.join(out, "summary.json"), JSON.stringify({ ...readJson<Summary>(out, "summary.json"), profiles: teams.map((t) => ({ name: t.name, namespace: t.name, roleArn: "arn:aws:iam::123456789012:role/kf-user-us-west-2-kf-mv" })) }));
        const finishing = await synth("--stack", "mv", "--project-dir", dir, "--out", out, "--config", "userRoleShards=2", "--config", "finishMoves=true");
        assertOk(finishing);
        assert.deepEqual(readJson<Summary>(out, "summary.json").changes!.moves.map((m) => m.oldRole), moved.map(() => "finished"));
        assert.match(finishing.stdout, /finishMoves: up removes it from kf-user-us-west-2-kf-mv/);
    });

    it("GIVEN userRoleShards auto THEN synth plans the count offline, the same trust policies on every run, and a one-profile change lists what moves as draining", async () => {
        const teams = Array.from({ length: 90 }, (_, i) => ({ name: `team-${String(i).padStart(3, "0")}`, owner: `owner${i}@example.com` }));
        const base = { "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf-auto", "kubeflow-irsa:kubeflowInstalled": "true", "kubeflow-irsa:userRoleShards": "auto", "kubeflow-irsa:profiles": teams };
        const dir = project("auto", base);
        const [out, again] = [tmpDir("auto"), tmpDir("auto-again")];
        const first = await synth("--stack", "auto", "--project-dir", dir, "--out", out);
        assertOk(first);
        assertOk(await synth("--stack", "auto", "--project-dir", dir, "--out", again));
        const policies = (d: string) => fs.readdirSync(path.join(d, "trust-policies")).sort().map((f) => [f, read(path.join(d, "trust-policies"), f)]);
        assert.deepEqual(policies(again), policies(out), "the same placement from the same config");
        const users = policies(out).filter(([f]) => f.startsWith("kf-user-us-west-2-kf-auto"));
        assert.ok(users.length >= 3, `90 profiles need several roles at 2048: ${users.map(([f]) => f).join(", ")}`);
        for (const [file, text] of users) assert.ok(policySize(JSON.parse(text)) <= 2048, `${file} within the quota`);

        fs.writeFileSync(path.join(dir, "Pulumi.auto.yaml"), toYaml({ config: { ...base, "kubeflow-irsa:profiles": [...teams, { name: "team-new", owner: "new@example.com" }] } }));
        const changed = await synth("--stack", "auto", "--project-dir", dir, "--out", out);
        assertOk(changed);
        const { changes } = readJson<Summary>(out, "summary.json");
        assert.deepEqual(changes!.newNamespaces, ["team-new"]);
        assert.ok(changes!.moves.length <= 2, `a one-profile change moves few: ${JSON.stringify(changes!.moves)}`);
        for (const move of changes!.moves) assert.equal(move.oldRole, "draining", `${move.profile} stays trusted by its old role until finishMoves`);
    });
});
