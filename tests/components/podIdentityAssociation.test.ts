// The lean association (components/podIdentityAssociation.ts) registers what the AWS SDK class
// would: its type token, the AWS package's version, and the same inputs — so existing stacks see
// no diff. If @pulumi/aws renames the type or changes its inputs, this fails before a stack does.
import { strict as assert } from "assert";
import * as aws from "@pulumi/aws";
import { getVersion } from "@pulumi/aws/utilities";
import { POD_IDENTITY_ASSOCIATION_TYPE } from "../../components/podIdentityAssociation";
import { runProgram } from "../../cli/evaluate";

describe("PodIdentityAssociation (lean registration)", () => {
    it("GIVEN @pulumi/aws THEN the type token is the SDK class's and the version is the package's", () => {
        assert.equal(POD_IDENTITY_ASSOCIATION_TYPE, (aws.eks.PodIdentityAssociation as unknown as { __pulumiType: string }).__pulumiType);
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        assert.equal(getVersion(), (require("@pulumi/aws/package.json") as { version: string }).version.replace(/^v/, ""));
    });

    it("GIVEN a podIdentity stack THEN each association's inputs are exactly the SDK class's required inputs (no extra keys the provider would diff)", async function () {
        this.timeout(60_000);
        const run = await runProgram({
            "aws:region": "us-west-2",
            "kubeflow-irsa:clusterName": "kf-dev",
            "kubeflow-irsa:kubeflowInstalled": "false",
            "kubeflow-irsa:identityMode": "podIdentity",
            "kubeflow-irsa:profiles": JSON.stringify([{ name: "team-a", owner: "a@example.com" }]),
        });
        for (const a of run.resources.filter((r) => r.type === POD_IDENTITY_ASSOCIATION_TYPE)) {
            assert.deepEqual(Object.keys(a.inputs).sort(), ["clusterName", "namespace", "roleArn", "serviceAccount"], a.name);
            assert.ok(aws.eks.PodIdentityAssociation.isInstance({ __pulumiType: a.type }), "the SDK's isInstance recognises the type");
        }
    });
});
