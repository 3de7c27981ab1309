import { strict as assert } from "assert";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { generateKeyPair, SignJWT, type KeyLike } from "jose";
import { main } from "../../cli/doctor";
import { FakeIam } from "../support/fakeIam";

const ISSUER = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
const OTHER_ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/0THERC1USTER0000000000000000000";
const ACCOUNT = "123456789012";
const PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}`;
const OTHER_PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/${OTHER_ISSUER}`;
const ROLE = "kf-user-us-west-2-kf-dev";
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/${ROLE}`;
const TEAM_A = "system:serviceaccount:team-a:default-editor";
const TEAM_B = "system:serviceaccount:team-b:default-editor";

type Condition = Record<string, Record<string, string | string[]>>;

function webIdentity(condition: Condition | undefined, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        Effect: "Allow",
        Principal: { Federated: PROVIDER },
        Action: "sts:AssumeRoleWithWebIdentity",
        ...(condition ? { Condition: condition } : {}),
        ...extra,
    };
}

/** What the project writes for the profiles team-a and kubeflow:kf-user. */
const profilesPolicy = (subjects: string | string[] = [TEAM_A, "system:serviceaccount:kubeflow:kf-user"]) => ({
    Version: "2012-10-17",
    Statement: [webIdentity({ StringEquals: { [`${ISSUER}:aud`]: "sts.amazonaws.com", [`${ISSUER}:sub`]: subjects } }, { Sid: "KubeflowProfiles" })],
});

interface Run {
    code: number;
    out: string;
    err: string;
}

async function doctor(...argv: string[]): Promise<Run> {
    let out = "";
    let err = "";
    const code = await main(argv, { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) } });
    return { code, out, err };
}

/** `--json` output, parsed. */
async function doctorJson(...argv: string[]): Promise<{ code: number; json: Record<string, unknown> }> {
    const { code, out } = await doctor(...argv, "--json");
    return { code, json: JSON.parse(out) as Record<string, unknown> };
}

const ENV_KEYS = ["AWS_ENDPOINT_URL_IAM", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"];

describe("doctor CLI (against a local IAM endpoint)", function () {
    let fake: FakeIam;
    let dir: string;
    let privateKey: KeyLike;
    const savedEnv: Record<string, string | undefined> = {};

    before(async () => {
        ({ privateKey } = await generateKeyPair("RS256"));
        dir = mkdtempSync(join(tmpdir(), "doctor-test-"));
        for (const key of ENV_KEYS) savedEnv[key] = process.env[key];
    });
    after(() => {
        rmSync(dir, { recursive: true, force: true });
        for (const key of ENV_KEYS) {
            if (savedEnv[key] === undefined) delete process.env[key];
            else process.env[key] = savedEnv[key];
        }
    });
    beforeEach(async () => {
        fake = await FakeIam.start({ accountId: ACCOUNT });
        process.env.AWS_ENDPOINT_URL_IAM = fake.endpoint;
        process.env.AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE";
        process.env.AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        process.env.AWS_REGION = "us-east-1";
        delete process.env.AWS_SESSION_TOKEN;
        delete process.env.AWS_PROFILE;
        process.env.AWS_CONFIG_FILE = join(dir, "no-config");
        process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, "no-credentials");
        fake.putOidcProvider(`https://${ISSUER}`, ["sts.amazonaws.com"]);
    });
    afterEach(async () => {
        await fake.close();
    });

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

    describe("--stack", () => {
        let projectDir: string;
        before(() => {
            // A copy of the project file and a stack of our own; the program itself is the real index.ts.
            projectDir = mkdtempSync(join(tmpdir(), "doctor-stack-"));
            copyFileSync(join(__dirname, "..", "..", "Pulumi.yaml"), join(projectDir, "Pulumi.yaml"));
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

    describe("--stack --offline (the trust policies `up` would write, no AWS call)", () => {
        let projectDir: string;
        before(() => {
            projectDir = mkdtempSync(join(tmpdir(), "doctor-offline-"));
            copyFileSync(join(__dirname, "..", "..", "Pulumi.yaml"), join(projectDir, "Pulumi.yaml"));
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
