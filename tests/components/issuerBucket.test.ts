// A self-managed cluster's issuer bucket under mocks: what the deployer needs to manage it (the
// README's deployer policy, judged by the permission evaluator against the bucket the program
// registers), and who may change the documents that decide which tokens IAM accepts.
import { strict as assert } from "assert";
import { generateKeyPairSync } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { runProgram, type ProgramRun } from "../../cli/evaluate";
import { issuerBucketPolicy } from "../../components/issuer";
import { evaluatePermissions } from "../../analysis/permissionEvaluation";
import type { PolicyDocument } from "../../domain/trustPolicy";
import { cliValues, named, ofType } from "../support/program";
import { AS_SIMULATED, simulate } from "../support/simulator";

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
    "aws:s3/bucketVersioning:BucketVersioning": { bucket: ["s3:PutBucketVersioning", "s3:GetBucketVersioning"] },
    "aws:s3/bucketObjectv2:BucketObjectv2": {
        bucket: ["s3:ListBucketVersions"],
        object: ["s3:PutObject", "s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging", "s3:DeleteObject", "s3:DeleteObjectVersion"],
    },
};

const ACCOUNT = "123456789012";
/** What STS's GetCallerIdentity says of the mocked deployer (cli/evaluate.ts): an IAM user's unique id. */
const DEPLOYER = "AIDASYNTH";
/**
 * IAM's verdict for a same-account principal whose own policy allows every S3 action, under the
 * bucket policy — by iam-simulate, and by the doctor's evaluator reading the bucket policy (it
 * tells whether the bucket policy denies; the identity policy allows the rest), which must agree.
 */
async function verdict(bucketPolicy: PolicyDocument, userId: string | undefined, action: string, resource: string): Promise<string> {
    const principal = userId === undefined ? undefined : userId.startsWith("AIDA") ? `arn:aws:iam::${ACCOUNT}:user/someone` : `arn:aws:sts::${ACCOUNT}:assumed-role/someone/${userId.split(":")[1]}`;
    const context: Record<string, string> = userId === undefined ? {} : { "aws:userid": userId };
    const s3Admin = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:*", Resource: "*" }] };
    const simulated = await simulate({ identityPolicies: principal ? [{ name: "s3-admin", document: s3Admin }] : [], resourcePolicy: bucketPolicy, principal, action, resource, account: ACCOUNT, context });
    const ours = evaluatePermissions([{ name: "bucket policy", document: bucketPolicy }], { action, resource, context, principal: { type: "AWS", name: principal ?? "*" } }).decision;
    // The bucket policy alone: an explicit deny stands; otherwise the identity policy (or the public Allow) decides.
    const combined = ours === "explicitly denied" ? "ExplicitlyDenied" : principal !== undefined || ours === "allowed" ? "Allowed" : AS_SIMULATED[ours];
    assert.equal(combined, simulated, `the evaluator and iam-simulate disagree on ${action} ${resource} by ${userId ?? "anonymous"}`);
    return simulated;
}

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

    it("THEN versioning is on, and each document is written only after the versioning and the deny are in place", () => {
        const versioning = ofType(run, "aws:s3/bucketVersioning:BucketVersioning");
        assert.equal(versioning.length, 1);
        assert.deepEqual(versioning[0].inputs.versioningConfiguration, { status: "Enabled" });
        for (const o of ofType(run, "aws:s3/bucketObjectv2:BucketObjectv2")) {
            for (const dep of ["cluster-issuer-versioning", "cluster-issuer-policy"]) assert.ok(o.options.dependencies.includes(named(run, dep).urn), `${o.name} waits for ${dep}`);
        }
    });

    it("WHEN anyone but the deployer, whatever their IAM policies, writes or deletes a document THEN the bucket policy denies it; the deployer may; everyone may read the two documents — iam-simulate and the doctor's evaluator agree", async () => {
        const policy = JSON.parse(String(named(run, "cluster-issuer-policy").inputs.policy)) as PolicyDocument;
        const keys = `${bucketArn}/keys.json`;
        for (const action of ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"]) {
            assert.equal(await verdict(policy, "AROAMALLORY000000000:mallory", action, keys), "ExplicitlyDenied", `${action} by another role`);
            assert.equal(await verdict(policy, "AIDAANOTHERUSER00000", action, keys), "ExplicitlyDenied", `${action} by another user`);
            assert.equal(await verdict(policy, DEPLOYER, action, keys), "Allowed", `${action} by the deployer`);
        }
        assert.equal(await verdict(policy, "AROAMALLORY000000000:mallory", "s3:PutObject", `${bucketArn}/.well-known/openid-configuration`), "ExplicitlyDenied");
        assert.equal(await verdict(policy, undefined, "s3:GetObject", keys), "Allowed", "IAM and STS read it anonymously");
        assert.equal(await verdict(policy, undefined, "s3:PutObject", keys), "ExplicitlyDenied", "an unsigned request has no deployer id either");
    });

    it("GIVEN a deployer that is a role session THEN every session of that role may write, and no other role's", async () => {
        const policy = JSON.parse(issuerBucketPolicy(bucketArn, "AROADEPLOYROLE000000:ci-run-41")) as PolicyDocument;
        const keys = `${bucketArn}/keys.json`;
        assert.equal(await verdict(policy, "AROADEPLOYROLE000000:ci-run-42", "s3:PutObject", keys), "Allowed", "the next CI run");
        assert.equal(await verdict(policy, "AROAOTHERROLE0000000:ci-run-41", "s3:PutObject", keys), "ExplicitlyDenied", "another role, same session name");
    });

    it("GIVEN a deployer that is a federated user (GetFederationToken: <account>:<name>) THEN that user may write, and no other federated user of the account", async () => {
        const policy = JSON.parse(issuerBucketPolicy(bucketArn, `${ACCOUNT}:deployer`)) as PolicyDocument;
        const keys = `${bucketArn}/keys.json`;
        assert.equal(await verdict(policy, `${ACCOUNT}:deployer`, "s3:PutObject", keys), "Allowed");
        assert.equal(await verdict(policy, `${ACCOUNT}:mallory`, "s3:PutObject", keys), "ExplicitlyDenied");
    });

    it("THEN the bucket may be destroyed with the old versions its documents leave (forceDestroy: the stack's own two documents only)", () => {
        assert.equal(ofType(run, "aws:s3/bucket:Bucket")[0].inputs.forceDestroy, true);
    });

    it("THEN the webhook keeps one replica through drains (a PodDisruptionBudget) and prefers its two replicas on different nodes and zones", () => {
        const deployment = named(run, "cluster-webhook-deployment");
        const spec = deployment.inputs.spec as { replicas: number; template: { metadata: { labels: Record<string, string> }; spec: { affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: { podAffinityTerm: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } } }[] } } } } };
        const pdb = named(run, "cluster-webhook-pdb");
        assert.equal(pdb.type, "kubernetes:policy/v1:PodDisruptionBudget");
        const budget = pdb.inputs.spec as { minAvailable: number; selector: { matchLabels: Record<string, string> } };
        assert.deepEqual(budget.selector.matchLabels, spec.template.metadata.labels, "the budget covers the webhook's pods");
        assert.equal((pdb.inputs.metadata as { namespace: string }).namespace, (deployment.inputs.metadata as { namespace: string }).namespace);
        assert.ok(budget.minAvailable >= 1 && budget.minAvailable < spec.replicas, `minAvailable ${budget.minAvailable} of ${spec.replicas}: never both evicted, and a drain can still proceed`);
        const terms = spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution.map((t) => t.podAffinityTerm);
        assert.deepEqual(terms.map((t) => t.topologyKey), ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]);
        for (const t of terms) assert.deepEqual(t.labelSelector.matchLabels, spec.template.metadata.labels);
        assert.equal(named(run, "cluster-k8s").urn.length > 0 && pdb.options.provider, `${named(run, "cluster-k8s").urn}::cluster-k8s-id`, "through the self-managed cluster's provider");
    });
});
