// The EKS cluster (new, via @pulumi/eks, or adopted) with its IAM OIDC provider, and the
// Kubernetes provider that Kubeflow objects go through.

import * as aws from "@pulumi/aws";
import * as eks from "@pulumi/eks";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { STS_AUDIENCE } from "../domain/trustPolicy";
import { issuerHostPath } from "../domain/subjects";
import type { ExistingClusterConfig, NodeGroupConfig } from "./config";
import { SelfHostedIssuer } from "./issuer";
import { partitionOf } from "./names";
import { eksClusterArn } from "./podIdentityTrust";
import { PodIdentityWebhook } from "./podIdentityWebhook";

export interface ClusterOidcArgs {
    /** The EKS cluster's name (new or existing). */
    clusterName: string;
    /** Adopt this cluster instead of creating one. @default a new cluster */
    existingCluster?: ExistingClusterConfig;
    /** Kubeconfig of an existing cluster. @default the ambient kubeconfig */
    kubeconfig?: pulumi.Input<string>;
    /** Create (or use) the IAM OIDC provider; false when the stack manages no IAM. @default true */
    createOidcProvider: boolean;
    /** Install the eks-pod-identity-agent add-on (podIdentity mode). @default false */
    podIdentityAgent: boolean;
    /** Size of a new cluster's default node group. */
    nodeGroup: NodeGroupConfig;
    /** The region (a self-managed cluster's issuer bucket lives there). */
    region: string;
}

export class ClusterOidc extends pulumi.ComponentResource {
    public readonly clusterName: pulumi.Output<string>;
    /** The IAM OIDC provider's ARN; undefined when no provider is wanted. */
    public readonly oidcProviderArn: pulumi.Output<string | undefined>;
    /** The issuer as condition keys spell it, without `https://`. */
    public readonly oidcIssuer: pulumi.Output<string>;
    public readonly kubeconfig: pulumi.Output<string | undefined>;
    /** Kubernetes provider for the cluster; undefined for the ambient kubeconfig. */
    public readonly k8sProvider?: k8s.Provider;
    /** The eks-pod-identity-agent add-on, when installed. */
    public readonly podIdentityAgent?: aws.eks.Addon;
    /**
     * The cluster's ARN, which EKS tags every Pod Identity session with (podIdentity mode). Pod
     * Identity binds roles of the cluster's own account, so it is the deployer's account (STS).
     */
    public readonly clusterArn?: pulumi.Output<string>;
    /** A self-managed cluster's issuer, hosted by the stack. */
    public readonly issuer?: SelfHostedIssuer;
    /** The pod identity webhook on a self-managed cluster. */
    public readonly webhook?: PodIdentityWebhook;

    constructor(name: string, args: ClusterOidcArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeflow-irsa:cluster:ClusterOidc", name, args, opts);
        const existing = args.existingCluster;

        if (!existing) {
            const cluster = new eks.Cluster(
                `${name}-eks`,
                {
                    name: args.clusterName,
                    createOidcProvider: args.createOidcProvider,
                    instanceType: args.nodeGroup.instanceType,
                    desiredCapacity: args.nodeGroup.desiredCapacity,
                    minSize: args.nodeGroup.minSize,
                    maxSize: args.nodeGroup.maxSize,
                },
                { parent: this },
            );
            this.clusterName = cluster.eksCluster.name;
            this.oidcProviderArn = args.createOidcProvider ? cluster.oidcProviderArn : pulumi.output(undefined);
            this.oidcIssuer = cluster.oidcIssuer.apply(issuerHostPath);
            this.kubeconfig = pulumi.secret(cluster.kubeconfigJson);
            this.k8sProvider = new k8s.Provider(`${name}-k8s`, { kubeconfig: cluster.kubeconfigJson }, { parent: this });
        } else {
            this.clusterName = pulumi.output(args.clusterName);
            this.oidcIssuer = pulumi.output(issuerHostPath(existing.oidcIssuerUrl));
            if (args.kubeconfig) {
                this.k8sProvider = new k8s.Provider(`${name}-k8s`, { kubeconfig: args.kubeconfig }, { parent: this });
            }
            if (existing.selfManaged) {
                // The stack hosts the issuer, creates its provider, and runs the webhook EKS would.
                this.issuer = new SelfHostedIssuer(
                    `${name}-issuer`,
                    { region: args.region, issuerUrl: existing.oidcIssuerUrl, selfManaged: existing.selfManaged, createOidcProvider: args.createOidcProvider },
                    { parent: this },
                );
                this.oidcProviderArn = this.issuer.oidcProviderArn;
                this.webhook = new PodIdentityWebhook(`${name}-webhook`, { image: existing.selfManaged.webhookImage, region: args.region, provider: this.k8sProvider }, { parent: this });
            } else if (!args.createOidcProvider) {
                this.oidcProviderArn = pulumi.output(undefined);
            } else if (existing.oidcProviderArn) {
                this.oidcProviderArn = pulumi.output(existing.oidcProviderArn);
            } else {
                // No thumbprint: IAM trusts the issuer's CA library for EKS and public CAs
                // (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc_verify-thumbprint.html).
                const provider = new aws.iam.OpenIdConnectProvider(
                    `${name}-oidc`,
                    { url: existing.oidcIssuerUrl, clientIdLists: [STS_AUDIENCE] },
                    { parent: this },
                );
                this.oidcProviderArn = provider.arn;
            }
            this.kubeconfig = args.kubeconfig ? pulumi.secret(pulumi.output(args.kubeconfig)) : pulumi.output(undefined);
        }

        if (args.podIdentityAgent) {
            // Pod Identity associations only work with the agent running on every node
            // (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-agent-setup.html).
            this.podIdentityAgent = new aws.eks.Addon(`${name}-pod-identity-agent`, { clusterName: this.clusterName, addonName: "eks-pod-identity-agent" }, { parent: this });
            this.clusterArn = aws
                .getCallerIdentityOutput({}, { parent: this })
                .accountId.apply((account) => eksClusterArn(partitionOf(args.region), args.region, account, args.clusterName));
        }

        this.registerOutputs({
            clusterName: this.clusterName,
            oidcProviderArn: this.oidcProviderArn,
            oidcIssuer: this.oidcIssuer,
            kubeconfig: this.kubeconfig,
        });
    }
}
