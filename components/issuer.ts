// A self-managed cluster's OIDC issuer, hosted by the stack: an S3 bucket (encrypted, owner-enforced,
// versioned, publicly readable for exactly the two documents and nothing else) with the discovery
// document and the JWKS, and the IAM OIDC provider for it (client id sts.amazonaws.com).
//
// Whoever can replace keys.json can sign tokens every role trusting the provider accepts. So the
// bucket policy denies object writes and deletes to every principal but the one deploying the
// stack (its IAM user, or every session of its role), whatever their IAM policies say; versioning
// keeps every earlier document, to see and undo a change.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { STS_AUDIENCE } from "../domain/trustPolicy";
import type { SelfManagedConfig } from "./config";
import { DISCOVERY_KEY, discoveryDocument, JWKS_KEY, jwksDocument } from "./issuerDocuments";
import { partitionOf } from "./names";

export interface SelfHostedIssuerArgs {
    region: string;
    issuerUrl: string;
    selfManaged: SelfManagedConfig;
    /** Create the IAM OIDC provider (false when the stack manages no IAM). */
    createOidcProvider: boolean;
}

/** Object writes and deletes: what could replace or remove the issuer's documents. */
export const ISSUER_WRITE_ACTIONS = ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl", "s3:PutObjectVersionAcl", "s3:RestoreObject"];

/**
 * `aws:userid` of every request of the deploying principal, from STS's UserId: an IAM user's
 * unique id as is; a role session's `<role id>:<session>` as `<role id>:*`, every session of that
 * role (a role's id, unlike its ARN from STS, does not lose the role's path).
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#principaltable
 */
export function deployerUserIdPattern(userId: string): string {
    const colon = userId.indexOf(":");
    // A federated user (GetFederationToken) is `<account>:<name>`: `<account>:*` would be every federated user of the account.
    if (colon < 0 || /^[0-9]{12}:/.test(userId)) return userId;
    return `${userId.slice(0, colon)}:*`;
}

/** The issuer bucket's policy: the two documents public, object writes and deletes for the deployer only. */
export function issuerBucketPolicy(bucketArn: string, deployerUserId: string): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            { Sid: "PublicIssuerDocuments", Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: [`${bucketArn}/${DISCOVERY_KEY}`, `${bucketArn}/${JWKS_KEY}`] },
            {
                Sid: "OnlyTheDeployerWritesTheIssuer",
                Effect: "Deny",
                Principal: "*",
                Action: ISSUER_WRITE_ACTIONS,
                Resource: `${bucketArn}/*`,
                Condition: { StringNotLike: { "aws:userid": deployerUserIdPattern(deployerUserId) } },
            },
        ],
    });
}

export class SelfHostedIssuer extends pulumi.ComponentResource {
    public readonly bucket: aws.s3.Bucket;
    /** The two documents, in the bucket. */
    public readonly documents: aws.s3.BucketObjectv2[];
    public readonly oidcProviderArn: pulumi.Output<string | undefined>;

    constructor(name: string, args: SelfHostedIssuerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeflow-irsa:cluster:SelfHostedIssuer", name, {}, opts);
        const bucketName = args.selfManaged.issuerBucket;
        const child = { parent: this };
        // forceDestroy: the bucket holds only the stack's two documents, and versioning keeps their
        // old versions (also of documents written before versioning was on), which a plain delete leaves.
        this.bucket = new aws.s3.Bucket(`${name}-bucket`, { bucket: bucketName, forceDestroy: true, tags: { "managed-by": "kubeflow-irsa" } }, child);
        new aws.s3.BucketServerSideEncryptionConfiguration(
            `${name}-encryption`,
            { bucket: this.bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }] },
            child,
        );
        const ownership = new aws.s3.BucketOwnershipControls(`${name}-ownership`, { bucket: this.bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } }, child);
        // ACLs stay blocked; only a bucket policy may make something public, and it names two keys.
        const publicAccess = new aws.s3.BucketPublicAccessBlock(
            `${name}-public-access`,
            { bucket: this.bucket.id, blockPublicAcls: true, ignorePublicAcls: true, blockPublicPolicy: false, restrictPublicBuckets: false },
            child,
        );
        const versioning = new aws.s3.BucketVersioning(`${name}-versioning`, { bucket: this.bucket.id, versioningConfiguration: { status: "Enabled" } }, child);
        const arn = `arn:${partitionOf(args.region)}:s3:::${bucketName}`;
        // The deploying principal as STS names it now: a stack deployed by someone else rewrites
        // the policy for them before it writes a document.
        const deployer = aws.getCallerIdentityOutput({}, { parent: this }).userId;
        const policy = new aws.s3.BucketPolicy(
            `${name}-policy`,
            { bucket: this.bucket.id, policy: deployer.apply((userId) => issuerBucketPolicy(arn, userId)) },
            { parent: this, dependsOn: [publicAccess, ownership] },
        );
        const put = (resourceName: string, key: string, content: unknown) =>
            new aws.s3.BucketObjectv2(
                resourceName,
                { bucket: this.bucket.id, key, content: `${JSON.stringify(content, null, 2)}\n`, contentType: "application/json" },
                { parent: this, dependsOn: [policy, versioning] },
            );
        this.documents = [put(`${name}-discovery`, DISCOVERY_KEY, discoveryDocument(args.issuerUrl)), put(`${name}-jwks`, JWKS_KEY, jwksDocument(args.selfManaged.serviceAccountKeys))];

        // IAM reads the discovery document and keys when the provider is created: both must be public first.
        this.oidcProviderArn = args.createOidcProvider
            ? new aws.iam.OpenIdConnectProvider(`${name}-oidc`, { url: args.issuerUrl, clientIdLists: [STS_AUDIENCE] }, { parent: this, dependsOn: [policy, ...this.documents] }).arn
            : pulumi.output(undefined);
        this.registerOutputs({ bucket: this.bucket.id, oidcProviderArn: this.oidcProviderArn });
    }
}
