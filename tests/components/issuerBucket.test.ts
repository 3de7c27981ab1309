// A self-managed cluster's issuer bucket under mocks: what the deployer needs to manage it (the
// README's deployer policy, judged by the permission evaluator against the bucket the program
// registers), and who may change the documents that decide which tokens IAM accepts.
import { strict as assert } from "assert";
import { generateKeyPairSync } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { runProgram, type ProgramRun } from "../../cli/evaluate";
import { evaluatePermissions } from "../../providers/permissionEvaluation";
import type { PolicyDocument } from "../../providers/trustPolicy";
import { cliValues, ofType } from "../support/program";

const CLUSTER = "kops-ml";
const pem = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" }).toString();
const config = cliValues({
    "aws:region": "eu-west-1",
    "kubeflow-irsa:clusterName": CLUSTER,
    "kubeflow-irsa:kubeflowInstalled": "false",
    "kubeflow-irsa:existingCluster": { selfManaged: { serviceAccountKeys: [pem] } },
    "kubeflow-irsa:kubeconfig": "apiVersion: v1\nkind: Config\n",
    "kubeflow-irsa:profiles": [{ name: "team-a", owner: "alice@example.com" }],
});

/** The deployer policy the README documents (the JSON under "Permissions the deployer needs"), for this cluster. */
function readmeDeployerPolicy(): PolicyDocument {
    const readme = fs.readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Permissions the deployer needs"));
    const block = /```json\n([\s\S]*?)```/.exec(section);
    assert.ok(block, "the README's deployer policy");
    return JSON.parse(block[1].replace(/<cluster>/g, CLUSTER)) as PolicyDocument;
}

/**
 * The S3 calls the AWS provider makes to create, refresh and delete each resource type (the
 * Terraform AWS provider's resource code: a bucket's read asks for every sub-configuration; an
 * object's delete in a versioned bucket deletes its versions). `object`: on the bucket's keys.
 */
const CALLS: Record<string, { bucket: string[]; object?: string[] }> = {
    "aws:s3/bucket:Bucket": {
        bucket: [
            "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:PutBucketTagging", "s3:GetBucketTagging", "s3:GetBucketPolicy", "s3:GetBucketAcl",
            "s3:GetBucketCORS", "s3:GetBucketWebsite", "s3:GetBucketVersioning", "s3:GetBucketLogging", "s3:GetBucketRequestPayment",
            "s3:GetBucketObjectLockConfiguration", "s3:GetAccelerateConfiguration", "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration",
            "s3:GetEncryptionConfiguration",
        ],
    },
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": { bucket: ["s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration"] },
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": { bucket: ["s3:PutBucketOwnershipControls", "s3:GetBucketOwnershipControls"] },
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": { bucket: ["s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock"] },
    "aws:s3/bucketPolicy:BucketPolicy": { bucket: ["s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"] },
    "aws:s3/bucketVersioningV2:BucketVersioningV2": { bucket: ["s3:PutBucketVersioning", "s3:GetBucketVersioning"] },
    "aws:s3/bucketObjectv2:BucketObjectv2": {
        bucket: ["s3:ListBucketVersions"],
        object: ["s3:PutObject", "s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging", "s3:DeleteObject", "s3:DeleteObjectVersion"],
    },
};

describe("self-managed issuer bucket", function () {
    this.timeout(60_000);
    let run: ProgramRun;
    let bucketArn: string;
    before(async () => {
        run = await runProgram(config);
        bucketArn = `arn:aws:s3:::${String(ofType(run, "aws:s3/bucket:Bucket")[0].inputs.bucket)}`;
    });

    it("THEN the README's deployer policy allows every S3 call up, refresh and destroy make on it, for the bucket the program names", () => {
        const policies = [{ name: "README deployer policy", document: readmeDeployerPolicy() }];
        const types = [...new Set(run.resources.map((r) => r.type).filter((t) => t.startsWith("aws:s3/")))];
        assert.ok(types.length >= 5, types.join(", "));
        for (const type of types) {
            const calls = CALLS[type];
            assert.ok(calls, `${type}: a new S3 resource type; add the calls it makes here and to the README's deployer policy`);
            const asks = [...calls.bucket.map((action) => [action, bucketArn]), ...(calls.object ?? []).map((action) => [action, `${bucketArn}/keys.json`])];
            for (const [action, resource] of asks) {
                assert.equal(evaluatePermissions(policies, { action, resource, context: {} }).decision, "allowed", `${type}: ${action} on ${resource}`);
            }
        }
        // Scoped to the issuer bucket: another bucket of the account is not the deployer's to change.
        assert.equal(evaluatePermissions(policies, { action: "s3:PutObject", resource: "arn:aws:s3:::acme-ml-workspaces/team-a/x", context: {} }).decision, "implicitly denied");
    });
});
