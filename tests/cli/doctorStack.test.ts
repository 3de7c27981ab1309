// The doctor's --stack mode (cli/doctorStack.ts): a stack's profiles, from the program run offline,
// each judged against its role's live trust policy, with the moves not finished.

import { strict as assert } from "assert";
import { rmSync, writeFileSync } from "fs";
import { join } from "path";
import type { FakeIam } from "../support/fakeIam";
import { ACCOUNT, doctor, doctorIamForSuite, doctorJson, ISSUER, PROVIDER, profilesPolicy, projectCopy, ROLE, TEAM_A, TEAM_B, webIdentity } from "../support/doctor";

describe("doctor CLI (against a local IAM endpoint)", function () {
    let fake: FakeIam;
    doctorIamForSuite((started) => (fake = started));

    describe("--stack", () => {
        let projectDir: string;
        before(() => {
            // A copy of the project file and a stack of our own; the program itself is the real index.ts.
            projectDir = projectCopy("doctor-stack-");
            writeFileSync(
                join(projectDir, "Pulumi.team.yaml"),
                [
                    "config:",
                    "  aws:region: us-west-2",
                    "  kubeflow-irsa:clusterName: kf-dev",
                    "  kubeflow-irsa:kubeflowInstalled: false",
                    "  kubeflow-irsa:profiles:",
                    "    - name: team-a",
                    "      owner: alice@example.com",
                    "    - name: team-b",
                    "      owner: bob@example.com",
                    "    - name: data-eng",
                    "      owner: carol@example.com",
                    `      awsIamRole: arn:aws:iam::${ACCOUNT}:role/data-eng-pipelines`,
                    "",
                ].join("\n"),
            );
        });
        after(() => rmSync(projectDir, { recursive: true, force: true }));

        it("GIVEN an encrypted kubeconfig WHEN the stack is checked live with its profiles replaced by --config THEN the override's profiles are judged and a note says kubeconfig was not known", async () => {
            writeFileSync(
                join(projectDir, "Pulumi.secret.yaml"),
                ["config:", "  aws:region: us-west-2", "  kubeflow-irsa:clusterName: kf-dev", "  kubeflow-irsa:kubeflowInstalled: true", "  kubeflow-irsa:kubeconfig:", "    secure: v1:Zt1ZwVxP9yQ=:v1:8hV3c2Fz0Xk4u1Wn:3m9cWlYp0HxJb5XrA6s0yQ==", ""].join("\n"),
            );
            fake.putRole(ROLE, profilesPolicy());
            const { code, out, err } = await doctor("--stack", "secret", "--project-dir", projectDir, "--config", 'profiles=[{"name":"team-a","owner":"alice@example.com"}]');
            assert.equal(code, 0, err);
            assert.match(out, /^team-a\s+default-editor\s+kf-user-us-west-2-kf-dev\s+allowed: statement 0 allows it$/m);
            assert.match(out, /^Note: kubeflow-irsa:kubeconfig is encrypted in Pulumi\.secret\.yaml: not known offline, and no result here depends on it/m);
        });

        it("GIVEN kf-user with a leftover aud-only statement WHEN the stack is checked live THEN the finding is listed once for the role, in text and --json", async () => {
            const policy = profilesPolicy();
            policy.Statement.push(webIdentity({ StringEquals: { [`${ISSUER}:aud`]: "sts.amazonaws.com" } }, { Sid: "KubeflowLeftover" }));
            fake.putRole(ROLE, policy);
            const { out } = await doctor("--stack", "team", "--project-dir", projectDir);
            assert.match(out, /^Findings: 1 \(1 mandatory, 0 advisory\)\n  \[mandatory\] irsa-aud-only \(kf-user-us-west-2-kf-dev\): statement 1 \(Sid "KubeflowLeftover"\)/m);
            const { json } = await doctorJson("--stack", "team", "--project-dir", projectDir);
            assert.deepEqual((json.findings as Array<{ rule: string; role: string; sid?: string }>).map((f) => [f.rule, f.role, f.sid]), [["irsa-aud-only", ROLE, "KubeflowLeftover"]]);
        });

        it("GIVEN kf-user trusting only team-a and a missing awsIamRole WHEN the stack is checked THEN it exits 1 with one row per profile", async () => {
            fake.putRole(ROLE, profilesPolicy());
            const { code, out } = await doctor("--stack", "team", "--project-dir", projectDir);
            assert.equal(code, 1, out);
            assert.match(out, /^team-a\s+default-editor\s+kf-user-us-west-2-kf-dev\s+allowed: statement 0 allows it$/m);
            assert.match(out, /^team-b\s+default-editor\s+kf-user-us-west-2-kf-dev\s+DENIED: no statement allows it \(implicit deny\)$/m);
            assert.ok(out.includes(`fix: add ${TEAM_B} to StringEquals ${ISSUER}:sub of statement 0`), out);
            assert.match(out, /^data-eng\s+default-editor\s+data-eng-pipelines\s+DENIED: the role does not exist$/m);
            assert.match(out, /fix: the profile's awsIamRole names data-eng-pipelines, which this account does not have/);
            assert.match(out, /2 of 3 profile\(s\) DENIED/);
            // kf-user once for its two profiles, data-eng-pipelines, and kf-user-…-1 (does a lowered shard still exist?)
            assert.equal(fake.count("GetRole"), 3, "kf-user is fetched once for its two profiles");
            assert.doesNotMatch(out, /Draining/);
        });

        it("GIVEN moves not finished (kf-user still trusting data-eng, a lowered shard still trusting team-b) WHEN the stack is checked live THEN each is listed as draining with the role the profile is on now", async () => {
            fake.putRole(ROLE, profilesPolicy([TEAM_A, TEAM_B, "system:serviceaccount:data-eng:default-editor"]));
            fake.putRole("data-eng-pipelines", profilesPolicy("system:serviceaccount:data-eng:default-editor"));
            fake.putRole(`${ROLE}-1`, profilesPolicy([TEAM_B]));
            try {
                const { code, out } = await doctor("--stack", "team", "--project-dir", projectDir);
                assert.equal(code, 0, "draining is not a denial");
                assert.match(out, /^Draining \(moves not finished/m);
                assert.match(out, /^ {2}kf-user-us-west-2-kf-dev: data-eng\/default-editor \(now on data-eng-pipelines\)$/m);
                assert.match(out, /^ {2}kf-user-us-west-2-kf-dev-1: team-b\/default-editor \(now on kf-user-us-west-2-kf-dev\)$/m);
                const { json } = await doctorJson("--stack", "team", "--project-dir", projectDir);
                assert.deepEqual((json.draining as Array<{ role: string; namespace: string }>).map((d) => [d.role, d.namespace]), [
                    [ROLE, "data-eng"],
                    [`${ROLE}-1`, "team-b"],
                ]);
            } finally {
                fake.removeRole(`${ROLE}-1`);
            }
        });

        it("GIVEN every role trusting its profiles WHEN checked with --json and --provider-arn THEN it exits 0 and each row says allowed", async () => {
            fake.putRole(ROLE, profilesPolicy([TEAM_A, TEAM_B]));
            fake.putRole("data-eng-pipelines", profilesPolicy("system:serviceaccount:data-eng:default-editor"));
            const { code, json } = await doctorJson("--stack", "team", "--project-dir", projectDir, "--provider-arn", PROVIDER);
            assert.equal(code, 0);
            assert.equal(json.allowed, true);
            assert.equal(json.region, "us-west-2");
            const rows = json.profiles as Array<{ namespace: string; role: string; status: string; decidingStatement?: number }>;
            assert.deepEqual(rows.map((r) => [r.namespace, r.role, r.status, r.decidingStatement]), [
                ["team-a", ROLE, "allowed", 0],
                ["team-b", ROLE, "allowed", 0],
                ["data-eng", "data-eng-pipelines", "allowed", 0],
            ]);
        });

        it("GIVEN a stack that does not exist, or --role with --stack WHEN run THEN it exits 2 naming the problem", async () => {
            const missing = await doctor("--stack", "nope", "--project-dir", projectDir);
            assert.equal(missing.code, 2);
            assert.match(missing.err, /^doctor: --stack nope: no stack "nope"/);
            const mixed = await doctor("--stack", "team", "--role", ROLE);
            assert.equal(mixed.code, 2);
            assert.match(mixed.err, /--role cannot be used with --stack/);
        });
    });
});
