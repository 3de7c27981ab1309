// The command-line entry points as a shell or a pipeline runs them: the package.json bins through
// npx, and the documented `npm run -s`, in child processes. Their stdout must be exactly the
// command's output (JSON with --json), and the AWS SDK's NodeVersionSupportWarning (printed on
// Node < 22) must not interleave with it on stderr. The children's environment is the test's
// (tests/support/cli.ts): NODE_NO_WARNINGS or --no-warnings in the caller's would hide what is checked.
import { strict as assert } from "assert";
import { mkdtempSync, readdirSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { FakeIam } from "../support/fakeIam";
import { runCli as run } from "../support/cli";

const ACCOUNT = "123456789012";
const ISSUER = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
const ROLE = "kf-user-us-west-2-kf-dev";

const parseJson = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;

describe("CLI output as a pipeline reads it (child processes)", function () {
    this.timeout(60_000);
    let dir: string;
    before(() => (dir = mkdtempSync(join(tmpdir(), "cli-output-"))));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("GIVEN `npx kubeflow-irsa-doctor … --json` against an IAM endpoint THEN stdout is only JSON and stderr has no NodeVersionSupportWarning", async () => {
        const fake = await FakeIam.start({ accountId: ACCOUNT });
        try {
            fake.putRole(ROLE, {
                Version: "2012-10-17",
                Statement: [
                    {
                        Effect: "Allow",
                        Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}` },
                        Action: "sts:AssumeRoleWithWebIdentity",
                        Condition: { StringEquals: { [`${ISSUER}:aud`]: "sts.amazonaws.com", [`${ISSUER}:sub`]: "system:serviceaccount:team-a:default-editor" } },
                    },
                ],
            });
            // The IAM client is created in this run, which is when the SDK emits its Node-version warning.
            const result = await run("npx", ["kubeflow-irsa-doctor", "--role", ROLE, "--namespace", "team-a", "--json"], {
                AWS_ENDPOINT_URL_IAM: fake.endpoint,
                AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
                AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                AWS_REGION: "us-east-1",
                AWS_PROFILE: "",
                AWS_SESSION_TOKEN: "",
                AWS_CONFIG_FILE: join(dir, "no-config"),
                AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-credentials"),
                AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "", // the SDK's own switch stays off: the CLI must do it
            });
            assert.equal(result.code, 0, result.stderr);
            assert.doesNotMatch(result.stderr, /NodeVersionSupportWarning/);
            assert.equal(result.stderr, "");
            const json = parseJson(result.stdout);
            assert.equal(json.allowed, true);
            assert.equal(json.role, ROLE);
            assert.equal(fake.count("GetRole"), 1);
        } finally {
            await fake.close();
        }
    });

    it("GIVEN `npm run -s doctor -- --stack dev --offline --json` THEN npm prints no banner: stdout parses as the report", async () => {
        const result = await run("npm", ["run", "-s", "doctor", "--", "--stack", "dev", "--offline", "--json"]);
        assert.equal(result.code, 0, result.stderr);
        assert.doesNotMatch(result.stderr, /NodeVersionSupportWarning/);
        const json = parseJson(result.stdout);
        assert.equal(json.mode, "offline");
        assert.equal(json.allowed, true);
    });

    it("GIVEN `npx kubeflow-irsa-synth` THEN the bin runs the synth CLI from the repository without a build step", async () => {
        const out = join(dir, "synth");
        const result = await run("npx", ["kubeflow-irsa-synth", "--stack", "dev", "--out", out]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stderr, "");
        assert.match(result.stdout, /^kubeflow-irsa stack "dev"/);
        assert.ok(readdirSync(out).includes("summary.json"));
    });

    it("GIVEN the CLIs' warning filter THEN it drops exactly NodeVersionSupportWarning and lets every other warning through", async () => {
        const script = [
            'require("./cli/outputHygiene").muteNodeVersionSupportWarning();',
            'require("./cli/outputHygiene").muteNodeVersionSupportWarning();', // idempotent
            'process.emitWarning("NodeVersionSupportWarning: The AWS SDK for JavaScript (v3) ...");', // as @aws-sdk/core emits it
            'process.emitWarning("dropped too", "NodeVersionSupportWarning");',
            'process.emitWarning("kept: a deprecation", "DeprecationWarning");',
            'process.emitWarning("kept: a plain warning");',
            'process.emitWarning("kept: NodeVersionSupportWarning named later in the text");',
        ].join("\n");
        const result = await run(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script]);
        assert.equal(result.code, 0, result.stderr);
        assert.doesNotMatch(result.stderr, /AWS SDK|dropped too/);
        assert.match(result.stderr, /DeprecationWarning: kept: a deprecation/);
        assert.match(result.stderr, /Warning: kept: a plain warning/);
        assert.match(result.stderr, /kept: NodeVersionSupportWarning named later in the text/);
    });
});
