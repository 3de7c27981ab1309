// Realistic IRSA data shared by the tests: two EKS clusters (dev and prod) and a role that many
// parties trust, in the shapes IAM accepts (strings or lists, one statement or several).
import type { PolicyDocument } from "../../domain/trustPolicy";

export const ACCOUNT = "123456789012";
export const DEV_ISSUER = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
export const PROD_ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF";
export const DEV = `arn:aws:iam::${ACCOUNT}:oidc-provider/${DEV_ISSUER}`;
export const PROD = `arn:aws:iam::${ACCOUNT}:oidc-provider/${PROD_ISSUER}`;
export const DEV_SUB = `${DEV_ISSUER}:sub`;
export const WEB = "sts:AssumeRoleWithWebIdentity";
export const STS = "sts.amazonaws.com";
export const sa = (ns: string, name = "default-editor") => `system:serviceaccount:${ns}:${name}`;
/** Foreign to the project: put there by kfctl. */
export const KF_USER = sa("kubeflow", "kf-user");

/**
 * A role shared with kfctl (kf-user), a prod cluster, CI runners (a StringLike pattern), a
 * statement restricted by an extra condition, and EC2. `devUsers` and `prodUsers` set the two
 * clusters' `sub` values (a string or a list, as authors write them).
 */
export function sharedRolePolicy(devUsers: string | string[] = KF_USER, prodUsers: string | string[] = [sa("alice")]): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "KubeflowUsers",
                Effect: "Allow",
                Principal: { Federated: DEV },
                Action: WEB,
                Condition: { StringEquals: { [`${DEV_ISSUER}:aud`]: STS, [DEV_SUB]: devUsers } },
            },
            {
                Sid: "ProdCluster",
                Effect: "Allow",
                Principal: { Federated: [PROD] },
                Action: [WEB],
                Condition: { StringEquals: { [`${PROD_ISSUER}:aud`]: [STS], [`${PROD_ISSUER}:sub`]: prodUsers } },
            },
            {
                Sid: "CiRunners",
                Effect: "Allow",
                Principal: { Federated: DEV },
                Action: WEB,
                Condition: { StringLike: { [DEV_SUB]: "system:serviceaccount:ci-*:runner" }, StringEquals: { [`${DEV_ISSUER}:aud`]: STS } },
            },
            {
                Sid: "RestrictedToMlTeam",
                Effect: "Allow",
                Principal: { Federated: DEV },
                Action: WEB,
                Condition: { StringEquals: { [DEV_SUB]: [sa("ml-team", "trainer")], [`${DEV_ISSUER}:aud`]: STS, "aws:RequestTag/team": "ml" } },
            },
            { Sid: "Ec2", Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
        ],
    };
}
