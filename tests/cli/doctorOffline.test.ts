// The doctor's offline modes (cli/doctorOffline.ts): --stack --offline against the trust policies
// `up` would write, and --s3 against the permission policies it would attach; no IAM call.

import { strict as assert } from "assert";
import { readFileSync, rmSync, writeFileSync } from "fs";
import { join } from "path";
import type { FakeIam } from "../support/fakeIam";
import { doctor, doctorIamForSuite, doctorJson, projectCopy, ROLE } from "../support/doctor";

describe("doctor CLI (against a local IAM endpoint)", function () {
    let fake: FakeIam;
    doctorIamForSuite((started) => (fake = started));

    describe("--stack --offline (the trust policies `up` would write, no AWS call)", () => {
        let projectDir: string;
        before(() => {
            projectDir = projectCopy("doctor-offline-");
            const stack = (extra: string[]) =>
                ["config:", "  aws:region: us-west-2", "  kubeflow-irsa:clusterName: kf-dev", "  kubeflow-irsa:kubeflowInstalled: false", ...extra, "  kubeflow-irsa:profiles:", "    - name: team-a", "      owner: alice@example.com", ""].join("\n");
            writeFileSync(join(projectDir, "Pulumi.noiam.yaml"), stack(["  kubeflow-irsa:enablePodIamPolicy: false"]));
            writeFileSync(join(projectDir, "Pulumi.pods.yaml"), stack(["  kubeflow-irsa:identityMode: podIdentity"]));
            writeFileSync(join(projectDir, "Pulumi.accounts.yaml"), `${stack([])}      serviceAccounts: [default-editor, default]\n`);
            writeFileSync(
                join(projectDir, "Pulumi.teams.yaml"),
                `${stack(["  kubeflow-irsa:identityMode: podIdentity", "  kubeflow-irsa:profileBucket: acme-ml-workspaces"])}    - name: team-b\n      owner: bob@example.com\n`,
            );
        });
        after(() => rmSync(projectDir, { recursive: true, force: true }));

        it("GIVEN the shipped dev stack WHEN checked offline THEN every profile is allowed, the external role is judged on its owned statement only, and IAM is never called", async () => {
            const { code, out, err } = await doctor("--stack", "dev", "--offline");
            assert.equal(code, 0, err);
            assert.match(out, /^Stack dev \(region us-west-2\): 3 profile\(s\) against the trust policies `up` would write \(offline, no AWS call\)$/m);
            assert.match(out, /^team-vision\s+default-editor\s+kf-user-us-west-2-kf-dev\s+allowed: statement 0 allows it$/m);
            assert.match(out, /^team-nlp\s+default-editor\s+kf-user-us-west-2-kf-dev\s+allowed: statement 0 allows it$/m);
            assert.match(out, /^data-eng\s+default-editor\s+data-eng-pipelines \*\s+allowed: statement 0 allows it \(the statement this stack owns\)$/m);
            assert.match(out, /^Note: data-eng-pipelines \* .* is not created by this stack: only the statement the stack owns in it is known offline/m);
            assert.match(out, /^Every profile can assume its role\.$/m);
            assert.ok(!out.includes("Findings:"), "nothing `up` writes breaks a rule");
            assert.equal(err, "");
            assert.equal(fake.calls.length, 0, "no IAM call");
        });

        it("GIVEN --json THEN the rows are stackMode's, with mode offline and what was judged", async () => {
            const { code, json } = await doctorJson("--stack", "dev", "--offline");
            assert.equal(code, 0);
            assert.equal(json.mode, "offline");
            assert.equal(json.allowed, true);
            const rows = json.profiles as Array<{ namespace: string; role: string; status: string; decidingStatement?: number; judged?: string; subject: string }>;
            assert.deepEqual(rows.map((r) => [r.namespace, r.role, r.status, r.decidingStatement, r.judged]), [
                ["team-vision", "kf-user-us-west-2-kf-dev", "allowed", 0, "policy"],
                ["team-nlp", "kf-user-us-west-2-kf-dev", "allowed", 0, "policy"],
                ["data-eng", "data-eng-pipelines", "allowed", 0, "owned-statement"],
            ]);
            assert.equal(rows[0].subject, "system:serviceaccount:team-vision:default-editor");
            assert.ok((json.notes as string[]).some((n) => n.startsWith("offline: judged against the trust policies `pulumi up` would write")));
            assert.equal(fake.calls.length, 0);
        });

        it("GIVEN podIdentity with profileBucket WHEN --s3 asks about a team's own prefix and another's THEN yes and no, from the policies up would attach, with no IAM call", async () => {
            const own = await doctor("--stack", "teams", "--project-dir", projectDir, "--offline", "--namespace", "team-a", "--s3", "s3://acme-ml-workspaces/team-a/data/train.csv");
            assert.equal(own.code, 0, own.err);
            assert.match(own.out, /^  read   ALLOWED +s3:GetObject arn:aws:s3:::acme-ml-workspaces\/team-a\/data\/train\.csv  \(profile-bucket: statement 1 \(Sid "ReadWriteOwnNamespacePrefix"\)\)$/m);
            assert.match(own.out, /^  list   ALLOWED +s3:ListBucket arn:aws:s3:::acme-ml-workspaces prefix "team-a\/data\/"/m);
            assert.match(own.out, /^YES: team-a can read s3:\/\/acme-ml-workspaces\/team-a\/data\/train\.csv\.$/m);
            const other = await doctorJson("--stack", "teams", "--project-dir", projectDir, "--offline", "--namespace", "team-a", "--s3", "s3://acme-ml-workspaces/team-b/data/train.csv");
            assert.equal(other.code, 1);
            assert.deepEqual((other.json.checks as Array<{ access: string; decision: string }>).map((c) => [c.access, c.decision]), [
                ["read", "implicitly denied"],
                ["write", "implicitly denied"],
                ["list", "implicitly denied"],
            ]);
            assert.equal((other.json.context as Record<string, string>)["aws:PrincipalTag/kubernetes-namespace"], "team-a");
            assert.equal(fake.calls.length, 0, "no IAM call");
        });

        it("GIVEN userPolicyArns on kf-user WHEN --s3 finds no inline allow THEN the answer is UNKNOWN (exit 3): managed policies are not known offline", async () => {
            writeFileSync(
                join(projectDir, "Pulumi.managed.yaml"),
                readFileSync(join(projectDir, "Pulumi.teams.yaml"), "utf8").replace("config:\n", "config:\n  kubeflow-irsa:userPolicyArns: [arn:aws:iam::123456789012:policy/ml-team-extras]\n"),
            );
            const { code, out } = await doctor("--stack", "managed", "--project-dir", projectDir, "--offline", "--namespace", "team-a", "--s3", "s3://acme-ml-workspaces/team-b/x");
            assert.equal(code, 3, out);
            assert.match(out, /^UNKNOWN: the policies `up` attaches do not let team-a read s3:\/\/acme-ml-workspaces\/team-b\/x/m);
            assert.match(out, /managed policies in kubeflow-irsa:userPolicyArns \(1\) are not known offline/);
        });

        it("GIVEN --s3 without --offline, for an unknown namespace, or an account the profile does not list THEN it exits 2 saying what is missing", async () => {
            const online = await doctor("--stack", "teams", "--project-dir", projectDir, "--namespace", "team-a", "--s3", "s3://acme-ml-workspaces/team-a/x");
            assert.equal(online.code, 2);
            assert.match(online.err, /--s3 needs --stack <name> --offline --namespace <ns>/);
            const unknown = await doctor("--stack", "teams", "--project-dir", projectDir, "--offline", "--namespace", "team-z", "--s3", "s3://acme-ml-workspaces/team-z/x");
            assert.equal(unknown.code, 2);
            assert.match(unknown.err, /--namespace: the stack has no profile "team-z" \(profiles: team-a, team-b\)/);
            const account = await doctor("--stack", "teams", "--project-dir", projectDir, "--offline", "--namespace", "team-a", "--service-account", "default", "--s3", "s3://acme-ml-workspaces/team-a/x");
            assert.equal(account.code, 2);
            assert.match(account.err, /profile "team-a" lists default-editor, not "default"/);
        });

        it("GIVEN a profile with serviceAccounts THEN each account is a row of its own, judged against the same role", async () => {
            const { code, out, err } = await doctor("--stack", "accounts", "--project-dir", projectDir, "--offline");
            assert.equal(code, 0, err);
            assert.match(out, /^Stack accounts \(region us-west-2\): 1 profile\(s\), 2 service accounts, against the trust policies/m);
            assert.match(out, /^team-a\s+default-editor\s+kf-user-us-west-2-kf-dev\s+allowed: statement 0 allows it$/m);
            assert.match(out, /^team-a\s+default\s+kf-user-us-west-2-kf-dev\s+allowed: statement 0 allows it$/m);
            const { json } = await doctorJson("--stack", "accounts", "--project-dir", projectDir, "--offline");
            assert.deepEqual((json.profiles as Array<{ subject: string }>).map((p) => p.subject), ["system:serviceaccount:team-a:default-editor", "system:serviceaccount:team-a:default"]);
            assert.equal(fake.calls.length, 0);
        });

        it("GIVEN a stack without IAM (enablePodIamPolicy false) THEN its profile is skipped and the exit code is 0", async () => {
            const { code, out } = await doctor("--stack", "noiam", "--project-dir", projectDir, "--offline");
            assert.equal(code, 0, out);
            assert.match(out, /^team-a\s+default-editor\s+-\s+SKIPPED: the stack gives this profile no IAM role \(enablePodIamPolicy is false\)$/m);
            assert.match(out, /No profile DENIED; 1 skipped \(no IAM role\)\./);
            const { json } = await doctorJson("--stack", "noiam", "--project-dir", projectDir, "--offline");
            assert.deepEqual((json.profiles as Array<{ status: string }>).map((p) => p.status), ["skipped"]);
        });

        it("GIVEN --offline with --role, without --stack, or on a podIdentity stack THEN it exits 2 with a clear message and no IAM call", async () => {
            const withRole = await doctor("--stack", "dev", "--offline", "--role", ROLE);
            assert.equal(withRole.code, 2);
            assert.match(withRole.err, /^doctor: --role cannot be used with --offline: --offline judges, with no AWS call, the trust policies `up` would write for each profile of a --stack; --role, --token and --provider-arn check live IAM/);
            const json = await doctorJson("--offline", "--role", ROLE, "--namespace", "team-a");
            assert.equal(json.code, 2);
            // --namespace goes with --offline (one profile, or --s3): only --role is refused
            assert.match(String(json.json.error), /^--role cannot be used with --offline/);
            const alone = await doctor("--offline");
            assert.equal(alone.code, 2);
            assert.match(alone.err, /^doctor: --offline needs --stack <name>/);
            const pods = await doctor("--stack", "pods", "--project-dir", projectDir, "--offline");
            assert.equal(pods.code, 2);
            assert.match(pods.err, /identityMode podIdentity: .* the doctor checks IRSA trust policies only/);
            assert.equal(fake.calls.length, 0);
        });
    });
});
