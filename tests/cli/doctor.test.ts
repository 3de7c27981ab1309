// The doctor's command line (cli/doctor.ts) and its live modes for one role: --role with
// --namespace, --token, --json, and usage errors (--stack: doctorStack.test.ts; --offline and
// --s3: doctorOffline.test.ts).

import { strict as assert } from "assert";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { generateKeyPair, SignJWT, type KeyLike } from "jose";
import type { FakeIam } from "../support/fakeIam";
import { ACCOUNT, doctor, doctorIamForSuite, doctorJson, ISSUER, OTHER_ISSUER, OTHER_PROVIDER, PROVIDER, profilesPolicy, ROLE, ROLE_ARN, TEAM_A, TEAM_B, webIdentity } from "../support/doctor";

describe("doctor CLI (against a local IAM endpoint)", function () {
    let fake: FakeIam;
    doctorIamForSuite((started) => (fake = started));
    let dir: string;
    let privateKey: KeyLike;

    before(async () => {
        ({ privateKey } = await generateKeyPair("RS256"));
        dir = mkdtempSync(join(tmpdir(), "doctor-test-"));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));


    /** Signs a projected service-account token the way EKS does (RS256), and writes it to a file. */
    async function tokenFile(claims: { sub?: string; aud?: string | string[]; iss?: string; expiresIn?: number } = {}): Promise<string> {
        const now = Math.floor(Date.now() / 1000);
        const ns = (claims.sub ?? TEAM_A).split(":")[2];
        const jwt = await new SignJWT({ "kubernetes.io": { namespace: ns, serviceaccount: { name: "default-editor" } } })
            .setProtectedHeader({ alg: "RS256", kid: "8d3a0f1c2b" })
            .setIssuer(claims.iss ?? `https://${ISSUER}`)
            .setSubject(claims.sub ?? TEAM_A)
            .setAudience(claims.aud ?? "sts.amazonaws.com")
            .setIssuedAt(now - 60)
            .setExpirationTime(now + (claims.expiresIn ?? 86400))
            .sign(privateKey);
        const path = join(dir, `token-${Math.random().toString(36).slice(2)}`);
        writeFileSync(path, jwt + "\n");
        return path;
    }

    describe("--role --namespace", () => {
        it("GIVEN a role trusting team-a WHEN checking team-a THEN it exits 0 and says which statement allows", async () => {
            fake.putRole(ROLE, profilesPolicy());
            const { code, out, err } = await doctor("--role", ROLE, "--namespace", "team-a");
            assert.equal(code, 0, err);
            assert.match(out, /ALLOWED: system:serviceaccount:team-a:default-editor can assume kf-user-us-west-2-kf-dev \(statement 0 allows it\)/);
            assert.match(out, /statement 0 \(Sid "KubeflowProfiles"\), Allow: MATCHES/);
            assert.doesNotMatch(out, /Fix:|Warning:/);
            assert.equal(err, "");
        });

        it("GIVEN the role's ARN and --provider-arn WHEN the provider accepts sts.amazonaws.com THEN it exits 0", async () => {
            fake.putRole(ROLE, profilesPolicy());
            const { code } = await doctor("--role", ROLE_ARN, "--namespace", "team-a", "--provider-arn", PROVIDER);
            assert.equal(code, 0);
            assert.equal(fake.count("GetOpenIDConnectProvider"), 1);
        });

        it("GIVEN a role ARN of another account WHEN the credentials reach a same-named role THEN it exits 2 instead of judging the wrong role", async () => {
            fake.putRole(ROLE, profilesPolicy());
            const { code, err } = await doctor("--role", `arn:aws:iam::999999999999:role/${ROLE}`, "--namespace", "team-a");
            assert.equal(code, 2);
            assert.match(err, /is in account 999999999999, but the AWS credentials reach account 123456789012/);
        });

        it("GIVEN a role trusting team-a WHEN checking team-b THEN it exits 1 and the fix names the subject to add", async () => {
            fake.putRole(ROLE, profilesPolicy());
            const { code, out } = await doctor("--role", ROLE, "--namespace", "team-b");
            assert.equal(code, 1);
            assert.match(out, /DENIED: .*team-b.* no statement allows it \(implicit deny\)/);
            assert.ok(out.includes(`Fix: add ${TEAM_B} to StringEquals ${ISSUER}:sub of statement 0 (Sid "KubeflowProfiles")`), out);
        });

        it("GIVEN sub as a single string instead of a list WHEN checking THEN the verdict is the same", async () => {
            fake.putRole(ROLE, profilesPolicy(TEAM_A));
            assert.equal((await doctor("--role", ROLE, "--namespace", "team-a")).code, 0);
            assert.equal((await doctor("--role", ROLE, "--namespace", "team-b")).code, 1);
        });

        it("GIVEN another service account than default-editor WHEN --service-account names it THEN its subject is checked", async () => {
            fake.putRole(ROLE, profilesPolicy());
            assert.equal((await doctor("--role", ROLE, "--namespace", "kubeflow", "--service-account", "kf-user")).code, 0);
        });

        it("GIVEN a provider that does not accept the audience WHEN checking with --provider-arn THEN it exits 1: STS rejects the token", async () => {
            fake.putRole(ROLE, profilesPolicy());
            const { code, out } = await doctor("--role", ROLE, "--namespace", "team-a", "--provider-arn", PROVIDER, "--audience", "kubeflow-pipelines");
            assert.equal(code, 1);
            assert.match(out, /STS rejects the token before the trust policy/);
            assert.match(out, /the token's audience is "kubeflow-pipelines"; the OIDC provider .* accepts "sts.amazonaws.com"/);
        });

        it("GIVEN the wrong audience WHEN checking without --provider-arn THEN the statement's aud condition explains the denial", async () => {
            fake.putRole(ROLE, profilesPolicy());
            const { code, out } = await doctor("--role", ROLE, "--namespace", "team-a", "--audience", "kubeflow-pipelines");
            assert.equal(code, 1);
            assert.match(out, /Fix: the token's audience is "kubeflow-pipelines"; statement 0 .* expects "sts.amazonaws.com"/);
        });

        it("GIVEN a role trusting another cluster WHEN checking with this cluster's provider THEN it exits 1 naming both providers", async () => {
            fake.putOidcProvider(`https://${OTHER_ISSUER}`, ["sts.amazonaws.com"]);
            fake.putRole(ROLE, { Version: "2012-10-17", Statement: [webIdentity({ StringEquals: { [`${OTHER_ISSUER}:sub`]: TEAM_A } }, { Principal: { Federated: OTHER_PROVIDER } })] });
            const { code, out } = await doctor("--role", ROLE, "--namespace", "team-a", "--provider-arn", PROVIDER);
            assert.equal(code, 1);
            assert.ok(out.includes(`Fix: the role trusts provider ${OTHER_PROVIDER}, not this cluster's provider ${PROVIDER}`), out);
        });

        it("GIVEN --provider-arn of a provider IAM does not have WHEN checking THEN it exits 1 and says the provider does not exist", async () => {
            fake.putRole(ROLE, profilesPolicy());
            const missing = `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/D0E5N0TEX1ST00000000000000000000`;
            const { code, out } = await doctor("--role", ROLE, "--namespace", "team-a", "--provider-arn", missing);
            assert.equal(code, 1);
            assert.match(out, /the IAM OIDC provider .*D0E5N0TEX1ST.* does not exist/);
        });

        it("GIVEN an explicit Deny for team-a next to the Allow WHEN checking team-a THEN the Deny wins (exit 1)", async () => {
            const policy = profilesPolicy();
            policy.Statement.push(webIdentity({ StringLike: { [`${ISSUER}:sub`]: "system:serviceaccount:team-a:*" } }, { Sid: "QuarantineTeamA", Effect: "Deny" }));
            fake.putRole(ROLE, policy);
            const { code, out } = await doctor("--role", ROLE, "--namespace", "team-a");
            assert.equal(code, 1);
            assert.match(out, /statement 1 explicitly denies it \(an explicit Deny overrides every Allow\)/);
            assert.match(out, /Fix: statement 1 \(Sid "QuarantineTeamA"\) explicitly denies/);
        });

        it("GIVEN an aud-only statement WHEN any namespace is checked THEN it is allowed, and the irsa-aud-only finding is listed beside the verdict", async () => {
            fake.putRole(ROLE, { Version: "2012-10-17", Statement: [webIdentity({ StringEquals: { [`${ISSUER}:aud`]: "sts.amazonaws.com" } })] });
            const { code, out } = await doctor("--role", ROLE, "--namespace", "some-random-ns");
            assert.equal(code, 0, "the verdict is IAM's: the namespace does get in");
            assert.match(out, /^ALLOWED: .*\nFindings: 1 \(1 mandatory, 0 advisory\)\n  \[mandatory\] irsa-aud-only \(kf-user-us-west-2-kf-dev\): statement 0 .*every service account in that cluster can assume this role\n      fix: add StringEquals/m);
        });

        it("GIVEN a live document breaking several rules (wildcard under StringEquals, StringLike over every namespace, near the quota) THEN each finding names its statement; --trust-policy-max-chars sets the quota", async () => {
            // 62 subjects: about 3,900 of 4,096 characters, above 90% and still under the quota.
            const subjects = Array.from({ length: 62 }, (_, i) => `system:serviceaccount:team-${String(i).padStart(3, "0")}:default-editor`);
            fake.putRole(ROLE, {
                Version: "2012-10-17",
                Statement: [
                    webIdentity({ StringEquals: { [`${ISSUER}:aud`]: "sts.amazonaws.com", [`${ISSUER}:sub`]: [...subjects, "system:serviceaccount:ml-*:runner"] } }, { Sid: "Profiles" }),
                    webIdentity({ StringEquals: { [`${ISSUER}:aud`]: "sts.amazonaws.com" }, StringLike: { [`${ISSUER}:sub`]: "system:serviceaccount:*:default" } }, { Sid: "Everyone" }),
                ],
            });
            const { json } = await doctorJson("--role", ROLE, "--namespace", "team-000", "--trust-policy-max-chars", "4096");
            const findings = json.findings as Array<{ rule: string; level: string; statement: number; sid?: string; role: string; fix: string }>;
            assert.deepEqual(findings.map((f) => [f.rule, f.level, f.statement, f.sid]), [
                ["irsa-wildcard-under-string-equals", "advisory", 0, "Profiles"],
                ["irsa-sub-matches-every-namespace", "mandatory", 1, "Everyone"],
                ["trust-policy-headroom", "advisory", 0, "Profiles"],
            ]);
            assert.ok(findings.every((f) => f.role === ROLE && f.fix.length > 0));
            const roomy = await doctorJson("--role", ROLE, "--namespace", "team-000", "--trust-policy-max-chars", "8192");
            assert.ok(!(roomy.json.findings as Array<{ rule: string }>).some((f) => f.rule === "trust-policy-headroom"), "at 8192 the document has room");
            const bad = await doctor("--role", ROLE, "--namespace", "team-000", "--trust-policy-max-chars", "100");
            assert.equal(bad.code, 2);
            assert.match(bad.err, /--trust-policy-max-chars: "100" is not a whole number from 2048 to 8192/);
        });

        it("GIVEN a role trusting two clusters WHEN no --provider-arn is given THEN every trusted provider is checked and each must allow", async () => {
            fake.putRole(ROLE, {
                Version: "2012-10-17",
                Statement: [
                    webIdentity({ StringEquals: { [`${OTHER_ISSUER}:sub`]: TEAM_B } }, { Principal: { Federated: OTHER_PROVIDER } }),
                    ...profilesPolicy().Statement,
                ],
            });
            const { code, json } = await doctorJson("--role", ROLE, "--namespace", "team-a");
            assert.equal(code, 1, "team-a is trusted by one cluster only");
            assert.equal(json.providerArn, OTHER_PROVIDER, "the verdict names the cluster that denies");
            assert.deepEqual((json.providers as Array<{ providerArn: string; allowed: boolean }>).map((p) => [p.providerArn, p.allowed]), [
                [OTHER_PROVIDER, false],
                [PROVIDER, true],
            ]);
            assert.ok((json.warnings as string[]).some((w) => w.includes("pass --provider-arn")));
            const pinned = await doctorJson("--role", ROLE, "--namespace", "team-a", "--provider-arn", PROVIDER);
            assert.equal(pinned.code, 0, "with the pod's own cluster named, the answer is exact");
        });
    });

    describe("--json", () => {
        it("GIVEN a denial WHEN --json THEN the evaluator's structure comes out with the fix and exit code 1", async () => {
            fake.putRole(ROLE, profilesPolicy());
            const { code, json } = await doctorJson("--role", ROLE, "--namespace", "team-b");
            assert.equal(code, 1);
            assert.equal(json.allowed, false);
            assert.equal(json.decidingStatement, undefined);
            assert.equal(json.role, ROLE);
            assert.equal(json.roleArn, ROLE_ARN);
            assert.equal(json.subject, TEAM_B);
            assert.deepEqual(json.audience, ["sts.amazonaws.com"]);
            assert.deepEqual(json.warnings, []);
            assert.match(String(json.fix), /^add system:serviceaccount:team-b:default-editor to StringEquals/);
            const statements = json.statements as Array<Record<string, unknown>>;
            assert.deepEqual(Object.keys(statements[0]).sort(), ["effect", "index", "matched", "reasons", "sid"]);
            assert.equal(statements[0].matched, false);
        });

        it("GIVEN an allowed aud-only statement WHEN --json THEN allowed, decidingStatement 0 and the irsa-aud-only finding are there", async () => {
            fake.putRole(ROLE, { Version: "2012-10-17", Statement: [webIdentity({ StringEquals: { [`${ISSUER}:aud`]: "sts.amazonaws.com" } })] });
            const { code, json } = await doctorJson("--role", ROLE, "--namespace", "team-a");
            assert.equal(code, 0);
            assert.equal(json.allowed, true);
            assert.equal(json.decidingStatement, 0);
            assert.equal(json.fix, undefined);
            assert.deepEqual((json.findings as Array<{ rule: string; level: string; statement: number }>).map((f) => [f.rule, f.level, f.statement]), [["irsa-aud-only", "mandatory", 0]]);
        });

        it("GIVEN a usage error WHEN --json THEN stdout carries {error} and the exit code is 2", async () => {
            const { code, json } = await doctorJson("--role", ROLE, "--namespace", "Team_A");
            assert.equal(code, 2);
            assert.match(String(json.error), /^--namespace: "Team_A" is not a valid Kubernetes namespace/);
        });
    });

    describe("--token", () => {
        it("GIVEN a valid signed token for team-a WHEN checked THEN it exits 0 and says the signature was not verified", async () => {
            fake.putRole(ROLE, profilesPolicy());
            const { code, out } = await doctor("--role", ROLE, "--token", await tokenFile());
            assert.equal(code, 0, out);
            assert.match(out, /Token: iss https:\/\/oidc\.eks\.us-west-2.*sub system:serviceaccount:team-a:default-editor.*signature not verified/);
            assert.match(out, /ALLOWED/);
        });

        it("GIVEN a StringLike statement WHEN a token of a matching service account is checked THEN it is allowed", async () => {
            fake.putRole(ROLE, { Version: "2012-10-17", Statement: [webIdentity({ StringLike: { [`${ISSUER}:sub`]: "system:serviceaccount:team-a:*" } })] });
            const { code } = await doctor("--role", ROLE, "--token", await tokenFile({ sub: "system:serviceaccount:team-a:pipeline-runner" }));
            assert.equal(code, 0);
            assert.equal((await doctor("--role", ROLE, "--token", await tokenFile({ sub: TEAM_B }))).code, 1);
        });

        it("GIVEN an expired token WHEN checked THEN it exits 1 and says when it expired, even though the policy allows it", async () => {
            fake.putRole(ROLE, profilesPolicy());
            const { code, json } = await doctorJson("--role", ROLE, "--token", await tokenFile({ expiresIn: -600 }));
            assert.equal(code, 1);
            assert.equal(json.allowed, false);
            assert.equal((json.token as { expired: boolean }).expired, true);
            assert.match(String(json.fix), /the token expired at .* \(10 minutes ago\), so STS rejects it/);
        });

        it("GIVEN a token for another audience WHEN checked THEN it exits 1: the provider does not accept it", async () => {
            fake.putRole(ROLE, profilesPolicy());
            const { code, out } = await doctor("--role", ROLE, "--token", await tokenFile({ aud: "https://kubernetes.default.svc" }));
            assert.equal(code, 1);
            assert.match(out, /the token's audience is "https:\/\/kubernetes.default.svc"; the OIDC provider .* accepts "sts.amazonaws.com"/);
        });

        it("GIVEN a token with several audiences including sts.amazonaws.com WHEN checked THEN it is allowed", async () => {
            fake.putRole(ROLE, profilesPolicy());
            const { code, json } = await doctorJson("--role", ROLE, "--token", await tokenFile({ aud: ["https://kubernetes.default.svc", "sts.amazonaws.com"] }));
            assert.equal(code, 0);
            assert.ok((json.warnings as string[]).some((w) => w.includes("2 audiences")));
        });

        it("GIVEN a token from a cluster the role does not trust WHEN checked THEN it exits 1 naming the trusted provider", async () => {
            fake.putOidcProvider(`https://${OTHER_ISSUER}`, ["sts.amazonaws.com"]);
            fake.putRole(ROLE, profilesPolicy());
            const { code, out } = await doctor("--role", ROLE, "--token", await tokenFile({ iss: `https://${OTHER_ISSUER}` }));
            assert.equal(code, 1);
            assert.ok(out.includes(`the role trusts provider ${PROVIDER}, not this cluster's provider ${OTHER_PROVIDER}`), out);
        });

        it("GIVEN a file that is not a JWT WHEN checked THEN it exits 2 with a clear message and no IAM call", async () => {
            const path = join(dir, "garbage");
            writeFileSync(path, "this is not a token\n");
            const { code, out, err } = await doctor("--role", ROLE, "--token", path);
            assert.equal(code, 2);
            assert.equal(out, "");
            assert.match(err, /^doctor: --token: ".*garbage" is not a JWT/);
            assert.doesNotMatch(err, /\n\s+at /, "no stack trace");
            assert.equal(fake.calls.length, 0);
        });

        it("GIVEN a missing token file or a JWT without sub WHEN checked THEN it exits 2", async () => {
            assert.match((await doctor("--role", ROLE, "--token", join(dir, "absent"))).err, /--token: cannot read .*absent.*ENOENT/);
            const noSub = await new SignJWT({}).setProtectedHeader({ alg: "RS256" }).setIssuer(`https://${ISSUER}`).setAudience("sts.amazonaws.com").sign(privateKey);
            const path = join(dir, "nosub");
            writeFileSync(path, noSub);
            const { code, err } = await doctor("--role", ROLE, "--token", path);
            assert.equal(code, 2);
            assert.match(err, /has no sub \(subject\) claim/);
        });

        it("GIVEN --token with --namespace WHEN parsed THEN it exits 2: the token names the service account", async () => {
            const { code, err } = await doctor("--role", ROLE, "--token", await tokenFile(), "--namespace", "team-a");
            assert.equal(code, 2);
            assert.match(err, /--namespace cannot be used with --token/);
        });
    });

    describe("errors and usage", () => {
        it("GIVEN a role that does not exist WHEN checked THEN it exits 2 with a clear message", async () => {
            const { code, out, err } = await doctor("--role", "kf-user-us-west-2-typo", "--namespace", "team-a");
            assert.equal(code, 2);
            assert.equal(out, "");
            assert.match(err, /^doctor: --role: role "kf-user-us-west-2-typo" does not exist/);
        });

        it("GIVEN IAM denies iam:GetRole WHEN checked THEN it exits 2 naming the operation and the permission, without a stack trace", async () => {
            fake.putRole(ROLE, profilesPolicy());
            fake.failNext("GetRole", { kind: "error", code: "AccessDenied", status: 403, message: "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: iam:GetRole" });
            const { code, err } = await doctor("--role", ROLE, "--namespace", "team-a");
            assert.equal(code, 2);
            assert.match(err, /iam:GetRole on kf-user-us-west-2-kf-dev failed: AccessDenied/);
            assert.match(err, /doctor only reads: it needs iam:GetRole/);
            assert.doesNotMatch(err, /\n\s+at /);
        });

        it("GIVEN bad flags WHEN parsed THEN each exits 2 naming the flag", async () => {
            const cases: Array<[string[], RegExp]> = [
                [["--role", ROLE, "--namespace", "team-a", "--bogus"], /Unknown option '--bogus'/],
                [["--namespace", "team-a"], /--role is required/],
                [["--role", ROLE], /--namespace is required/],
                [["--role", "not a role!", "--namespace", "team-a"], /--role "not a role!" is not an IAM role name or ARN/],
                [["--role", ROLE, "--namespace", "team-a", "--provider-arn", "arn:aws:iam::1:oidc-provider/x"], /--provider-arn: .* is not an IAM OIDC provider ARN/],
                [["--role", ROLE, "--namespace", "team-a", "--service-account", "Default_Editor"], /--service-account: "Default_Editor" is not a valid/],
                [[], /give --role with --namespace or --token, or --stack/],
            ];
            for (const [argv, message] of cases) {
                const { code, err } = await doctor(...argv);
                assert.equal(code, 2, argv.join(" "));
                assert.match(err, message, argv.join(" "));
            }
            assert.equal(fake.calls.length, 0, "nothing reaches IAM");
        });

        it("GIVEN --help WHEN run THEN it exits 0 and explains modes, exit codes and when the signature is verified", async () => {
            const { code, out } = await doctor("--help");
            assert.equal(code, 0);
            for (const phrase of ["--role", "--token", "--stack", "--offline", "--json", "npm run -s doctor", "--jwks", "without it only the claims are read", "0 allowed, 1 denied, 2 usage or AWS error"]) {
                assert.ok(out.includes(phrase), phrase);
            }
        });
    });
});
