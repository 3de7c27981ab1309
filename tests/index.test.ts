// index.ts as a plain Pulumi unit test sees it (pulumi/examples testing-unit-ts): mocks set, the
// module imported, its named exports read — with the test's own mocks, not cli/evaluate's.
import { strict as assert } from "assert";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

const INDEX = path.resolve(__dirname, "..", "index.ts");
const valueOf = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

async function load(config: Record<string, string>, accountId?: string): Promise<Record<string, pulumi.Output<unknown>>> {
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => ({
                id: `${args.name}-id`,
                state: {
                    ...args.inputs,
                    ...(args.type === "aws:iam/role:Role" ? { arn: `arn:aws:iam::123456789012:role/${args.inputs.name}` } : {}),
                    ...(args.type === "eks:index:Cluster"
                        ? { oidcProviderArn: "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC", oidcIssuer: "oidc.eks.us-west-2.amazonaws.com/id/ABC", eksCluster: { name: "kf-dev" }, kubeconfigJson: "{}" }
                        : {}),
                },
            }),
            // a harness that answers getCallerIdentity, or (accountId undefined) echoes its inputs
            call: (args) => (args.token === "aws:index/getCallerIdentity:getCallerIdentity" && accountId ? { accountId } : args.inputs),
        },
        "kubeflow-irsa",
        "test",
        false,
    );
    pulumi.runtime.setAllConfig(config);
    delete require.cache[INDEX];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(INDEX) as Record<string, pulumi.Output<unknown>>;
}

const base = { "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf-dev", "kubeflow-irsa:kubeflowInstalled": "false" };

describe("index.ts under a plain mocks harness", function () {
    this.timeout(60_000);

    it("GIVEN a stack with a kf-user profile THEN the named exports are there at import", async () => {
        const index = await load({ ...base, "kubeflow-irsa:profiles": JSON.stringify([{ name: "team-a", owner: "a@example.com" }]) });
        assert.equal(await valueOf(index.kfUserRoleArn), "arn:aws:iam::123456789012:role/kf-user-us-west-2-kf-dev");
        assert.deepEqual(await valueOf(index.profileRoleArns), { "team-a": "arn:aws:iam::123456789012:role/kf-user-us-west-2-kf-dev" });
    });

    it("GIVEN an awsIamRole naming kf-user in another account and a harness whose getCallerIdentity answers THEN the exports still resolve, with the ARN as configured", async () => {
        const other = "arn:aws:iam::999999999999:role/kf-user-us-west-2-kf-dev";
        const index = await load({ ...base, "kubeflow-irsa:profiles": JSON.stringify([{ name: "partner", owner: "p@example.com", awsIamRole: other }]) }, "123456789012");
        assert.deepEqual(await valueOf(index.profileRoleArns), { partner: other });
        assert.equal(await valueOf(index.clusterName), "kf-dev");
    });

    it("GIVEN an awsIamRole naming kf-user in another account and a harness whose getCallerIdentity answers nothing THEN the exports fail naming the account as what is missing, instead of guessing which role it is", async () => {
        const other = "arn:aws:iam::999999999999:role/kf-user-us-west-2-kf-dev";
        const index = await load({ ...base, "kubeflow-irsa:profiles": JSON.stringify([{ name: "partner", owner: "p@example.com", awsIamRole: other }]) });
        // Output#promise: the SDK's own way to await an Output, errors included.
        const settled = (index.profileRoleArns as unknown as { promise(): Promise<unknown> }).promise();
        await assert.rejects(settled, /profiles\[0\]\.awsIamRole: "arn:aws:iam::999999999999:role\/kf-user-us-west-2-kf-dev" has the name of a role this stack creates, and the account the stack deploys to is not known.*if STS answered without one, check the stack's AWS credentials/);
    });
});
