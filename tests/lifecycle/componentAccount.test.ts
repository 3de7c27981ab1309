// The component used from another program (tests/support/componentProgram.ts), as a user runs it:
// whole `pulumi up`s whose roles live in a local IAM and whose TrustSubjects run through the
// provider Pulumi's host loads. A profile whose awsIamRole is kf-user's ARN in the deploying
// account is kf-user: one TrustSubjects writes that role, never two in one `up`.
import { strict as assert } from "assert";
import * as path from "path";
import { cliValues } from "../support/program";
import { ACCOUNT } from "../support/fixtures";
import { localIamForSuite } from "../support/host";
import { StackLifecycle } from "../support/stackLifecycle";
import { evaluateTrustPolicy } from "../../analysis/trustEvaluation";

const USER = "kf-user-us-west-2-kf-dev";
const USER_ARN = `arn:aws:iam::${ACCOUNT}:role/${USER}`;
const PROGRAM = path.resolve(__dirname, "..", "support", "componentProgram.ts");
const TRUST_TYPE = "pulumi-nodejs:dynamic/kubeflow-irsa:TrustSubjects";
const sub = (ns: string) => `system:serviceaccount:${ns}:default-editor`;

const config = (extra: Record<string, unknown> = {}) =>
    cliValues({
        "aws:region": "us-west-2",
        "kubeflow-irsa:clusterName": "kf-dev",
        "kubeflow-irsa:kubeflowInstalled": "true",
        "kubeflow-irsa:profiles": [
            { name: "team-a", owner: "a@example.com" },
            { name: "team-b", owner: "b@example.com", awsIamRole: USER_ARN },
        ],
        ...extra,
    });

describe("the component in another program (program + host-loaded provider + local IAM)", function () {
    this.timeout(120_000);
    const local = localIamForSuite();

    it("GIVEN an awsIamRole that is kf-user's ARN WHEN the program gives no accountId THEN `up` stops before anything reaches IAM; WHEN it passes deployerAccount(config) THEN kf-user gets one TrustSubjects and one write, and trusts both teams", async () => {
        const stack = new StackLifecycle(local(), "real", PROGRAM);
        const before = local().calls.length;
        await assert.rejects(stack.up(config()), /profiles\[1\]\.awsIamRole: .* has the name of a role this stack creates, and the account the stack deploys to is not known.*pass accountId to KubeflowIrsa/);
        assert.deepEqual(local().calls.slice(before), [], "no IAM call");
        assert.deepEqual(local().roleNames(), [], "no role");

        const { run, ops, writes } = await stack.up(config({ "platform:askSts": "true" }));
        const onUser = run.resources.filter((r) => r.type === TRUST_TYPE && String(r.inputs.role).toLowerCase().endsWith(`/${USER}`));
        assert.deepEqual(onUser.map((r) => r.name), [`trust-${USER}`], "one TrustSubjects on kf-user");
        assert.equal(ops[`trust-${USER}`], "create");
        assert.equal(writes[USER], 1, "one write on kf-user");
        const provider = run.outputs.oidcProviderArn as string;
        for (const team of ["team-a", "team-b"]) {
            assert.ok(evaluateTrustPolicy(local().trustPolicy(USER), { providerArn: provider, sub: sub(team), aud: "sts.amazonaws.com" }).allowed, `${team} can assume kf-user`);
        }
        assert.deepEqual(run.outputs.profileRoleArns, { "team-a": USER_ARN, "team-b": USER_ARN });

        // Removing team-b's awsIamRole changes nothing: it was kf-user all along.
        const settled = await stack.up(
            cliValues({ ...config({ "platform:askSts": "true" }), "kubeflow-irsa:profiles": [{ name: "team-a", owner: "a@example.com" }, { name: "team-b", owner: "b@example.com" }] }),
        );
        assert.deepEqual(settled.writes, {}, "no write");
        assert.ok(evaluateTrustPolicy(local().trustPolicy(USER), { providerArn: provider, sub: sub("team-b"), aud: "sts.amazonaws.com" }).allowed);
    });
});
