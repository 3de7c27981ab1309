// A new user's first runs of the offline tools, as a shell runs them (child processes, exit code
// and message): a stack with encrypted values, the config mistakes a newcomer makes, and the
// doctor's offline flags as the README documents them (issue 21).
import { strict as assert } from "assert";
import { generateKeyPairSync } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SignJWT, generateKeyPair } from "jose";
import { stringify as toYaml } from "yaml";
import { UNKNOWN_VALUE } from "../../cli/configOverrides";
import { ROOT, runTs, type CliRun } from "../support/cli";

const synth = (...args: string[]) => runTs("cli/synth.ts", args);
const doctor = (...args: string[]) => runTs("cli/doctor.ts", args);

/** What `pulumi config set --secret` writes (the passphrase provider's format); nothing here can decrypt it. */
const SECRET = { secure: "v1:Zt1ZwVxP9yQ=:v1:8hV3c2Fz0Xk4u1Wn:3m9cWlYp0HxJb5XrA6s0yQ==" };
const ISSUER_URL = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
const PROFILES = [
    { name: "team-a", owner: "alice@example.com" },
    { name: "team-b", owner: "bob@example.com" },
];
const KUBECONFIG = "apiVersion: v1\nkind: Config\n";

/** The problem lines of an `invalid stack configuration` error, by the key they start with. */
function problemLine(stderr: string, key: string): string {
    const line = stderr.split("\n").find((l) => l.startsWith(`  - ${key}: `));
    assert.ok(line, `no problem for ${key} in:\n${stderr}`);
    return line;
}

/** Every file under `dir`, hidden ones included, relative to it. */
function filesUnder(dir: string, prefix = ""): string[] {
    return fs.readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(dir, path.join(prefix, e.name)) : [path.join(prefix, e.name)]));
}

function assertExit(run: CliRun, code: number): void {
    assert.equal(run.code, code, `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
}

describe("first runs of the offline tools (child processes)", function () {
    this.timeout(180_000);
    let dir: string;
    /** A project directory with this project's Pulumi.yaml and one stack file, written as given. */
    const stackFile = (stack: string, text: string) => fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), text);
    const out = (name: string) => path.join(dir, "out", name);

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "first-run-"));
        fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    describe("GIVEN stacks with encrypted values (pulumi config set --secret)", () => {
        before(() => {
            const pem = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" }).toString();
            // A self-managed cluster needs kubeconfig (the webhook goes there), set as a secret as the README says.
            stackFile(
                "kops",
                toYaml({
                    config: {
                        "aws:region": "us-west-2",
                        "aws:secretKey": SECRET,
                        "kubeflow-irsa:clusterName": "kops-ml",
                        "kubeflow-irsa:kubeflowInstalled": true,
                        "kubeflow-irsa:existingCluster": { selfManaged: { serviceAccountKeys: [pem] } },
                        "kubeflow-irsa:kubeconfig": SECRET,
                        "kubeflow-irsa:profiles": PROFILES,
                    },
                }),
            );
            // An EKS cluster whose profile list is kept secret too: that one every result depends on.
            stackFile(
                "eks",
                toYaml({
                    config: {
                        "aws:region": "us-west-2",
                        "kubeflow-irsa:clusterName": "kf-eks",
                        "kubeflow-irsa:kubeflowInstalled": true,
                        "kubeflow-irsa:existingCluster": { oidcIssuerUrl: ISSUER_URL },
                        "kubeflow-irsa:kubeconfig": SECRET,
                        "kubeflow-irsa:profiles": SECRET,
                    },
                }),
            );
        });

        it("WHEN synth runs on the self-managed stack THEN it writes everything, and says kubeconfig and aws:secretKey are not known and nothing depends on them", async () => {
            const run = await synth("--stack", "kops", "--project-dir", dir, "--out", out("kops"));
            assertExit(run, 0);
            assert.equal(run.stderr, "");
            assert.match(run.stdout, /^Note: kubeflow-irsa:kubeconfig is encrypted in Pulumi\.kops\.yaml: not known offline, and no result here depends on it \(it only connects the Kubernetes provider to the cluster\)\.$/m);
            assert.match(run.stdout, /^Note: aws:secretKey is encrypted in Pulumi\.kops\.yaml: not known offline, and no result here depends on it/m);
            const files = filesUnder(out("kops"));
            for (const file of ["summary.json", "kubernetes.yaml", "oidc-issuer/.well-known/openid-configuration", "oidc-issuer/keys.json", "trust-policies/kf-user-us-west-2-kops-ml.json"]) {
                assert.ok(files.includes(file), `${file} in ${files.join(", ")}`);
            }
            const summary = JSON.parse(fs.readFileSync(path.join(out("kops"), "summary.json"), "utf8")) as { unknownConfig: string[] };
            assert.equal(summary.unknownConfig.length, 2);
            // No written file carries the stand-in for the secret: nothing written depends on it.
            for (const file of files) assert.ok(!fs.readFileSync(path.join(out("kops"), file), "utf8").includes(UNKNOWN_VALUE), file);
        });

        it("WHEN synth runs on a stack whose encrypted profiles every result depends on THEN it exits 2 naming the key and the --config that gives it", async () => {
            const run = await synth("--stack", "eks", "--project-dir", dir, "--out", out("eks"));
            assertExit(run, 2);
            const line = problemLine(run.stderr, "kubeflow-irsa:profiles");
            assert.match(line, /is encrypted in .*Pulumi\.eks\.yaml, which the offline tools cannot decrypt, and what `up` writes depends on it; give its value with --config profiles=<value>/);
            assert.match(line, /--config profiles="\$\(pulumi config get kubeflow-irsa:profiles\)"/);
            assert.doesNotMatch(run.stderr, /kubeflow-irsa:kubeconfig/, "kubeconfig may stay unknown");
        });

        it("WHEN the suggested $(pulumi config get …) failed and --config gives the encrypted profiles empty THEN synth and the doctor refuse instead of judging zero profiles", async () => {
            for (const run of [await synth("--stack", "eks", "--project-dir", dir, "--out", out("eks-empty"), "--config", "profiles="), await doctor("--stack", "eks", "--project-dir", dir, "--offline", "--config", "profiles=")]) {
                assertExit(run, 2);
                assert.match(problemLine(run.stderr, "kubeflow-irsa:profiles"), /--config gave it an empty value, and .*Pulumi\.eks\.yaml holds it encrypted; did `pulumi config get kubeflow-irsa:profiles` fail\?/);
            }
        });

        it("WHEN no provider ARN tells the account and an awsIamRole ARN has kf-user's name THEN synth plans it as kf-user in that ARN's account, as `up` would: one trust policy, not a second role's", async () => {
            stackFile("acct", toYaml({ config: { "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf-eks", "kubeflow-irsa:kubeflowInstalled": true, "kubeflow-irsa:existingCluster": { oidcIssuerUrl: ISSUER_URL }, "kubeflow-irsa:profiles": [{ name: "team-a", owner: "a@example.com", awsIamRole: "arn:aws:iam::111122223333:role/kf-user-us-west-2-kf-eks" }, { name: "team-b", owner: "b@example.com" }] } }));
            const run = await synth("--stack", "acct", "--project-dir", dir, "--out", out("acct"));
            assertExit(run, 0);
            const policies = fs.readdirSync(path.join(out("acct"), "trust-policies")).sort();
            assert.deepEqual(policies.filter((f) => f.includes("kf-user")), ["kf-user-us-west-2-kf-eks.json"], policies.join(", "));
            const kfUser = fs.readFileSync(path.join(out("acct"), "trust-policies", "kf-user-us-west-2-kf-eks.json"), "utf8");
            assert.match(kfUser, /team-a:default-editor/);
            assert.match(kfUser, /team-b:default-editor/);
        });

        it("WHEN one profile's field is encrypted (pulumi config set --path --secret) THEN the whole key is encrypted, and the error says to give it with --config", async () => {
            stackFile("nested", toYaml({ config: { "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf-eks", "kubeflow-irsa:existingCluster": { oidcIssuerUrl: ISSUER_URL }, "kubeflow-irsa:profiles": [{ name: "team-a", owner: SECRET }] } }));
            const run = await synth("--stack", "nested", "--project-dir", dir, "--out", out("nested"));
            assertExit(run, 2);
            assert.match(problemLine(run.stderr, "kubeflow-irsa:profiles"), /is encrypted in .*Pulumi\.nested\.yaml.*give its value with --config profiles=/);
        });

        it("WHEN the doctor gets the profiles with --config THEN it judges them offline, and notes the kubeconfig it went without", async () => {
            const run = await doctor("--stack", "eks", "--project-dir", dir, "--offline", "--config", `profiles=${JSON.stringify(PROFILES)}`);
            assertExit(run, 0);
            assert.match(run.stdout, /^team-a\s+default-editor\s+kf-user-us-west-2-kf-eks\s+allowed: statement 0 allows it$/m);
            assert.match(run.stdout, /^team-b\s+default-editor\s+kf-user-us-west-2-kf-eks\s+allowed/m);
            assert.match(run.stdout, /^Note: kubeflow-irsa:kubeconfig is encrypted in Pulumi\.eks\.yaml: not known offline/m);
        });

        it("WHEN synth gets both values with --config THEN nothing is unknown, and the doctor's --jwks on that output says only self-managed stacks have oidc-issuer/", async () => {
            const run = await synth("--stack", "eks", "--project-dir", dir, "--out", out("eks"), "--config", `profiles=${JSON.stringify(PROFILES)}`, "--config", `kubeconfig=${KUBECONFIG}`);
            assertExit(run, 0);
            assert.doesNotMatch(run.stdout, /not known offline/);
            const { privateKey } = await generateKeyPair("RS256");
            const token = await new SignJWT({})
                .setProtectedHeader({ alg: "RS256", kid: "k1" })
                .setIssuer(ISSUER_URL)
                .setSubject("system:serviceaccount:team-a:default-editor")
                .setAudience("sts.amazonaws.com")
                .setExpirationTime("1h")
                .sign(privateKey);
            const tokenFile = path.join(dir, "token");
            fs.writeFileSync(tokenFile, token);
            const jwks = await doctor("--token", tokenFile, "--jwks", out("eks"));
            assertExit(jwks, 2);
            assert.match(jwks.stderr, /^doctor: --jwks: ".*eks" has no oidc-issuer\/: it is the synth output of a stack that is not self-managed, and only self-managed stacks \(existingCluster\.selfManaged\) have oidc-issuer\//);
            assert.match(jwks.stderr, /save the issuer's JWKS \(the jwks_uri of <issuer>\/\.well-known\/openid-configuration\) and give that file/);
            assert.doesNotMatch(jwks.stderr, /ENOENT/);
        });
    });

    describe("GIVEN the config mistakes a newcomer makes", () => {
        it("WHEN a stack has typos, an unquoted number, a word for a number and a URL for a map, and --config adds more THEN each line names key, value and fix, and says where to fix it", async () => {
            stackFile(
                "typos",
                [
                    "config:",
                    "  aws:regin: us-west-2",
                    "  kubeflow-irsa:clusterName: kf-dev",
                    "  kubeflow-irsa:kubeflowInstalled: true",
                    "  kubeflow-irsa:foo: bar",
                    "  kubeflow-irsa:trustPolicyMaxChars: lots",
                    `  kubeflow-irsa:existingCluster: ${ISSUER_URL}`,
                    "  kubeflow-irsa:profiles:",
                    "    - name: 12345",
                    "      owner: alice@example.com",
                    "",
                ].join("\n"),
            );
            const run = await synth("--stack", "typos", "--project-dir", dir, "--out", out("typos"), "--config", "userRoleShard=2", "--config", "userPolicyArns=[arn:aws:iam::aws:policy/ReadOnlyAccess");
            assertExit(run, 2);
            const foo = problemLine(run.stderr, "kubeflow-irsa:foo");
            assert.match(foo, /is not a key of this project \(its keys are those Pulumi\.yaml declares, listed in the README's Configuration section\); remove it from Pulumi\.<stack>\.yaml \(`pulumi config rm kubeflow-irsa:foo`\)/);
            assert.doesNotMatch(foo, /did you mean/, "no key is close to foo");
            assert.match(problemLine(run.stderr, "aws:regin"), /is not a config key of the aws provider; did you mean `aws:region`\? \(rename it in Pulumi\.<stack>\.yaml/);
            assert.match(problemLine(run.stderr, "aws:region"), /is required/);
            assert.match(problemLine(run.stderr, "kubeflow-irsa:trustPolicyMaxChars"), /"lots" is not a number: use a whole number from 2048 to 8192/);
            assert.match(problemLine(run.stderr, "kubeflow-irsa:profiles[0].name"), /12345 is a number, not a string: YAML reads it unquoted as one; quote it \("12345"\)/);
            const cluster = problemLine(run.stderr, "kubeflow-irsa:existingCluster");
            assert.match(cluster, /"https:\/\/oidc\.eks\.us-west-2\.amazonaws\.com\/id\/EXAMPLED539D4633E53DE1B71EXAMPLE" is a string, not a map; write it as a map with the issuer URL under oidcIssuerUrl/);
            assert.ok(cluster.includes(`\`kubeflow-irsa:existingCluster:\` and under it, indented, \`oidcIssuerUrl: ${ISSUER_URL}\``), cluster);
            // What came from --config is fixed there, not in the stack file.
            const shard = problemLine(run.stderr, "kubeflow-irsa:userRoleShard");
            assert.match(shard, /did you mean `kubeflow-irsa:userRoleShards`\? \(it came from --config: correct the key there\)/);
            const arns = problemLine(run.stderr, "kubeflow-irsa:userPolicyArns");
            assert.match(arns, /is not valid JSON; it came from --config: give the list or map there as JSON, quoted for the shell/);
            for (const line of [shard, arns]) assert.doesNotMatch(line, /Pulumi\.<stack>\.yaml/);
        });

        it("WHEN every profile is commented out (profiles: with no value) THEN it says to write []", async () => {
            stackFile("empty", "config:\n  aws:region: us-west-2\n  kubeflow-irsa:clusterName: kf-dev\n  kubeflow-irsa:kubeflowInstalled: true\n  kubeflow-irsa:profiles:\n  #  - name: team-a\n  #    owner: alice@example.com\n");
            const run = await synth("--stack", "empty", "--project-dir", dir, "--out", out("empty"));
            assertExit(run, 2);
            assert.match(problemLine(run.stderr, "kubeflow-irsa:profiles"), /has no value \(YAML null: .*every entry commented out\); write `kubeflow-irsa:profiles: \[\]` for an empty list/);
            assert.doesNotMatch(run.stderr, /is not a list of maps/);
        });

        it("WHEN the stack file has its keys but no top-level config: block THEN the first line says the block is missing", async () => {
            stackFile("flat", "aws:region: us-west-2\nkubeflow-irsa:clusterName: kf-dev\nkubeflow-irsa:kubeflowInstalled: true\n");
            const run = await synth("--stack", "flat", "--project-dir", dir, "--out", out("flat"));
            assertExit(run, 2);
            const first = run.stderr.split("\n")[1];
            assert.match(first, /^ {2}- .*Pulumi\.flat\.yaml: has no top-level `config:` block, so the stack sets no value: aws:region, kubeflow-irsa:clusterName, kubeflow-irsa:kubeflowInstalled are at the top level, where Pulumi reads no config; put a `config:` line first and indent the keys under it$/);
        });
    });

    describe("GIVEN the doctor's offline flags as the README documents them", () => {
        it("WHEN --offline --namespace names one profile THEN it judges that profile only", async () => {
            const run = await doctor("--stack", "dev", "--offline", "--namespace", "team-nlp");
            assertExit(run, 0);
            assert.match(run.stdout, /^Stack dev \(region us-west-2\): 1 profile\(s\) against the trust policies `up` would write/m);
            assert.match(run.stdout, /^team-nlp\s+default-editor\s+kf-user-us-west-2-kf-dev\s+allowed: statement 0 allows it$/m);
            assert.doesNotMatch(run.stdout, /^team-vision/m);
        });

        it("WHEN --offline --namespace … --s3 asks about a bucket THEN it answers (kf-user has no S3 policy: NO, exit 1)", async () => {
            const run = await doctor("--stack", "dev", "--offline", "--namespace", "team-nlp", "--s3", "s3://acme-ml-workspaces/team-nlp/data.csv");
            assertExit(run, 1);
            assert.match(run.stdout, /^NO: team-nlp cannot read s3:\/\/acme-ml-workspaces\/team-nlp\/data\.csv\.$/m);
        });

        it("WHEN --s3 names a one-character bucket THEN it blames S3's bucket name rule, not the URL's form", async () => {
            const run = await doctor("--stack", "dev", "--offline", "--namespace", "team-nlp", "--s3", "s3://b/k");
            assertExit(run, 2);
            assert.match(run.stderr, /^doctor: --s3: in "s3:\/\/b\/k", the bucket "b" is 1 character long: S3 bucket names are 3–63 characters/);
            assert.doesNotMatch(run.stderr, /is not an s3:\/\/<bucket>\/<key> URL/);
        });

        it("WHEN --config is not key=value THEN the doctor says so, as synth does", async () => {
            const run = await doctor("--stack", "dev", "--offline", "--config", "userRoleShards");
            assertExit(run, 2);
            assert.match(run.stderr, /^doctor: --config "userRoleShards" is not key=value \(e\.g\. --config userRoleShards=4\)/);
        });
    });
});
