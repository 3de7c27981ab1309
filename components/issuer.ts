// A self-managed cluster's OIDC issuer, hosted by the stack: an S3 bucket (encrypted, owner-enforced,
// publicly readable for exactly the two documents and nothing else) with the discovery document and
// the JWKS, and the IAM OIDC provider for it (client id sts.amazonaws.com).

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { STS_AUDIENCE } from "../providers/trustPolicy";
import type { SelfManagedConfig } from "./config";
import { DISCOVERY_KEY, discoveryDocument, JWKS_KEY, jwksDocument } from "./issuerDocuments";
import { partitionOf } from "./placement";

export interface SelfHostedIssuerArgs {
    region: string;
    issuerUrl: string;
    selfManaged: SelfManagedConfig;
    /** Create the IAM OIDC provider (false when the stack manages no IAM). */
    createOidcProvider: boolean;
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
        this.bucket = new aws.s3.Bucket(`${name}-bucket`, { bucket: bucketName, tags: { "managed-by": "kubeflow-irsa" } }, child);
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
        const arn = `arn:${partitionOf(args.region)}:s3:::${bucketName}`;
        const policy = new aws.s3.BucketPolicy(
            `${name}-policy`,
            {
                bucket: this.bucket.id,
                policy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [{ Sid: "PublicIssuerDocuments", Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: [`${arn}/${DISCOVERY_KEY}`, `${arn}/${JWKS_KEY}`] }],
                }),
            },
            { parent: this, dependsOn: [publicAccess, ownership] },
        );
        const put = (resourceName: string, key: string, content: unknown) =>
            new aws.s3.BucketObjectv2(resourceName, { bucket: this.bucket.id, key, content: `${JSON.stringify(content, null, 2)}\n`, contentType: "application/json" }, child);
        this.documents = [put(`${name}-discovery`, DISCOVERY_KEY, discoveryDocument(args.issuerUrl)), put(`${name}-jwks`, JWKS_KEY, jwksDocument(args.selfManaged.serviceAccountKeys))];

        // IAM reads the discovery document and keys when the provider is created: both must be public first.
        this.oidcProviderArn = args.createOidcProvider
            ? new aws.iam.OpenIdConnectProvider(`${name}-oidc`, { url: args.issuerUrl, clientIdLists: [STS_AUDIENCE] }, { parent: this, dependsOn: [policy, ...this.documents] }).arn
            : pulumi.output(undefined);
        this.registerOutputs({ bucket: this.bucket.id, oidcProviderArn: this.oidcProviderArn });
    }
}
