// The contract of the stack's configuration: the `kubeflow-irsa:*` namespace, the shape the program
// reads (StackConfig and its parts), the defaults of the optional keys and the limits. Types and
// constants only, importing nothing of the reading: config.ts reads and validates a stack's values
// into this shape (over configReader.ts), configKeys.ts says which keys exist. Pulumi.yaml declares
// the same keys and defaults for the CLI; a test keeps the two in step.

import type * as pulumi from "@pulumi/pulumi";
import { DEFAULT_MAX_POLICY_CHARS } from "../domain/trustPolicy";
import { DEFAULT_LOG_SHIPPER_SERVICE_ACCOUNTS, type AdminRoleMode, type AlbController } from "./controllers";

/** The namespace of the stack's keys (`kubeflow-irsa:<key>`), and the project's name. */
export const PROJECT = "kubeflow-irsa";

export const PROFILE_API_VERSIONS = ["kubeflow.org/v1", "kubeflow.org/v1beta1"] as const;
export type ProfileApiVersion = (typeof PROFILE_API_VERSIONS)[number];
export const IDENTITY_MODES = ["irsa", "podIdentity"] as const;
export type IdentityMode = (typeof IDENTITY_MODES)[number];

/** One Kubeflow profile: a namespace, its owner, and optionally the role its pods get. */
export interface ProfileConfig {
    /** The profile's name, which is also its namespace (RFC 1123 label). */
    name: string;
    /** The owner's e-mail, as the Kubeflow dashboard knows the user. */
    owner: string;
    /** A role ARN for this profile's service accounts. @default the stack's kf-user role (or its shard) */
    awsIamRole?: string;
    /** Service accounts of the namespace that get the role, each trusted (IRSA) or associated (podIdentity). @default ["default-editor"] */
    serviceAccounts: string[];
}

/** Adopt a cluster this stack does not create. */
export interface ExistingClusterConfig {
    /** `https://oidc.eks.<region>.amazonaws.com/id/<ID>` or a self-managed issuer URL. */
    oidcIssuerUrl: string;
    /** The IAM OIDC provider for that issuer. @default created by this stack */
    oidcProviderArn?: string;
    /** A self-managed cluster whose issuer this stack hosts (S3), with its IAM OIDC provider and the pod identity webhook. */
    selfManaged?: SelfManagedConfig;
}

export interface SelfManagedConfig {
    /** PEM public keys (RSA) of the cluster's service-account signing keys; several during a rotation. */
    serviceAccountKeys: string[];
    /** @default DEFAULT_WEBHOOK_IMAGE (a pinned release of aws/amazon-eks-pod-identity-webhook) */
    webhookImage: string;
    /** The bucket hosting the issuer (derived: issuerBucketName). */
    issuerBucket: string;
}

export interface NodeGroupConfig {
    /** @default "m5.xlarge" */
    instanceType: string;
    /** @default 2 */
    desiredCapacity: number;
    /** @default 1 */
    minSize: number;
    /** @default 4 */
    maxSize: number;
}

export interface StackConfig {
    region: string;
    clusterName: string;
    existingCluster?: ExistingClusterConfig;
    /** Kubeconfig for an existing cluster; the ambient kubeconfig when absent. */
    kubeconfig?: pulumi.Output<string>;
    enablePodIamPolicy: boolean;
    enableFsx: boolean;
    /** Which load balancer controller runs (its policy and service account). @default "v2" */
    albController: AlbController;
    /** One kf-admin for the whole control plane, or one role per component. @default "shared" */
    adminRoleMode: AdminRoleMode;
    /** `namespace:name` references trusted by kf-admin. @default see defaultAdminServiceAccounts */
    adminServiceAccounts: string[];
    /** The log shipper's service accounts (cloudwatch-logs). @default DEFAULT_LOG_SHIPPER_SERVICE_ACCOUNTS */
    logShipperServiceAccounts: string[];
    userPolicyArns: string[];
    profiles: ProfileConfig[];
    trustPolicyMaxChars: number;
    profileApiVersion: ProfileApiVersion;
    /** kf-user roles: a count (rendezvous hashing) or `auto` (bounded loads, the stack picks the count). @default 1 */
    userRoleShards: number | "auto";
    identityMode: IdentityMode;
    nodeGroup: NodeGroupConfig;
    /** Kubeflow (and its Profile CRD) runs on the cluster: register the Profile objects. Required: see readKubeflowInstalled. */
    kubeflowInstalled: boolean;
    /** Delete a Profile (and with it, Kubeflow's namespace) when it leaves the config; else keep it. */
    deleteRemovedProfiles: boolean;
    /** podIdentity: an existing S3 bucket; each namespace's sessions get `<namespace>/` in it, and nothing else. */
    profileBucket?: string;
    /** Moves to finish (providers/moves.ts): true every one, a list those of these profiles. @default false: none */
    finishMoves: boolean | string[];
}

/**
 * Defaults of every optional key; Pulumi.yaml declares the same (checked by a test).
 * adminServiceAccounts has none here: it depends on albController, enableFsx and adminRoleMode
 * (defaultAdminServiceAccounts), so Pulumi.yaml declares it "" ("not set").
 */
export const DEFAULTS = {
    enablePodIamPolicy: true,
    enableFsx: false,
    albController: "v2" as AlbController,
    adminRoleMode: "shared" as AdminRoleMode,
    logShipperServiceAccounts: [...DEFAULT_LOG_SHIPPER_SERVICE_ACCOUNTS],
    userPolicyArns: [] as string[],
    profiles: [] as ProfileConfig[],
    trustPolicyMaxChars: DEFAULT_MAX_POLICY_CHARS,
    profileApiVersion: "kubeflow.org/v1" as ProfileApiVersion,
    userRoleShards: 1,
    identityMode: "irsa" as IdentityMode,
    instanceType: "m5.xlarge",
    desiredCapacity: 2,
    minSize: 1,
    maxSize: 4,
    deleteRemovedProfiles: false,
};

/** IAM's hard limit of managed policies per role (10 by default, adjustable to 20). */
export const MAX_MANAGED_POLICIES_PER_ROLE = 20;

/** Upper bound on kf-user shards: more would be a typo, not a plan (5,000 profiles need ~300 at a 2048 quota, ~110 at 4096). */
export const MAX_USER_ROLE_SHARDS = 1000;
