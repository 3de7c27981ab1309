// The reviewed permission policies of the control plane, read as IAM would read them after the
// program fills in partition, region and cluster: what each grants, and on what.
import { strict as assert } from "assert";
import { loadPolicy, type PolicyVariables } from "../../components/roles";
import { evaluatePermissions } from "../../analysis/permissionEvaluation";
import { parsePolicyDocument } from "../../domain/trustPolicy";
import { AS_SIMULATED, simulate } from "../support/simulator";

interface Statement {
    Sid?: string;
    Effect: string;
    Action: string | string[];
    Resource: string | string[];
    Condition?: Record<string, Record<string, unknown>>;
}
const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
const statementsOf = (text: string) => (JSON.parse(text) as { Statement: Statement[] }).Statement;

/** Read-only by IAM's access levels: Describe*, Get*, List* (every other verb changes something). */
const readOnly = (action: string) => /^[\w-]+:(Describe|Get|List)/.test(action);

const conditionKeys = (s: Statement) => Object.values(s.Condition ?? {}).flatMap((block) => Object.keys(block));

/** Condition keys that say nothing about which resource is touched (a region is not a resource). */
const UNSCOPING_KEYS = new Set(["aws:RequestedRegion", "aws:TagKeys"]);

/**
 * Mutating actions a statement grants on every resource (`*`) with no condition that picks the
 * resource: none at all, or only a region or a tag-key restriction of the request.
 */
function unscopedOnStar(statements: Statement[]): string[] {
    return statements
        .filter((s) => s.Effect === "Allow" && list(s.Resource).includes("*") && conditionKeys(s).every((k) => UNSCOPING_KEYS.has(k)))
        .flatMap((s) => list(s.Action).filter((a) => !readOnly(a)));
}

/** Mutating actions a statement grants on every resource (`*`) with no condition at all. */
function unconditionedOnStar(statements: Statement[]): string[] {
    return statements.filter((s) => s.Effect === "Allow" && list(s.Resource).includes("*") && !s.Condition).flatMap((s) => list(s.Action).filter((a) => !readOnly(a)));
}

/**
 * Mutating actions the controller calls that IAM authorizes only on `*`: the Service Authorization
 * Reference lists no resource type for them, so a statement scoped to an ARN never matches and the
 * call is denied. What narrows them is a request condition: the region for SetWebAcl, no tags for
 * CreateProtection (the controller sends none).
 */
const ONLY_ON_STAR = ["elasticloadbalancing:SetWebAcl", "shield:CreateProtection"];

/**
 * The actions of kubernetes-sigs/aws-load-balancer-controller docs/install/iam_policy.json
 * (commit 225f445, the v3.5.0 install docs): the controller calls each of them.
 */
const UPSTREAM_ACTIONS = [
    "iam:CreateServiceLinkedRole",
    ...["DescribeAccountAttributes", "DescribeAddresses", "DescribeAvailabilityZones", "DescribeInternetGateways", "DescribeVpcs", "DescribeVpcPeeringConnections", "DescribeSubnets", "DescribeSecurityGroups", "DescribeInstances", "DescribeNetworkInterfaces", "DescribeTags", "GetCoipPoolUsage", "DescribeCoipPools", "GetSecurityGroupsForVpc", "DescribeIpamPools", "DescribeRouteTables"].map((a) => `ec2:${a}`),
    ...["AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress", "CreateSecurityGroup", "CreateTags", "DeleteTags", "DeleteSecurityGroup"].map((a) => `ec2:${a}`),
    ...[
        "DescribeLoadBalancers", "DescribeLoadBalancerAttributes", "DescribeListeners", "DescribeListenerCertificates", "DescribeSSLPolicies", "DescribeRules", "DescribeTargetGroups", "DescribeTargetGroupAttributes", "DescribeTargetHealth", "DescribeTags", "DescribeTrustStores", "DescribeListenerAttributes", "DescribeCapacityReservation",
        "CreateLoadBalancer", "CreateTargetGroup", "CreateListener", "DeleteListener", "CreateRule", "DeleteRule", "AddTags", "RemoveTags",
        "ModifyLoadBalancerAttributes", "SetIpAddressType", "SetSecurityGroups", "SetSubnets", "DeleteLoadBalancer", "ModifyTargetGroup", "ModifyTargetGroupAttributes", "DeleteTargetGroup", "ModifyListenerAttributes", "ModifyCapacityReservation", "ModifyIpPools",
        "RegisterTargets", "DeregisterTargets", "SetWebAcl", "ModifyListener", "AddListenerCertificates", "RemoveListenerCertificates", "ModifyRule", "SetRulePriorities",
    ].map((a) => `elasticloadbalancing:${a}`),
    "cognito-idp:DescribeUserPoolClient", "acm:ListCertificates", "acm:DescribeCertificate", "iam:ListServerCertificates", "iam:GetServerCertificate",
    "waf-regional:GetWebACL", "waf-regional:GetWebACLForResource", "waf-regional:AssociateWebACL", "waf-regional:DisassociateWebACL",
    "wafv2:GetWebACL", "wafv2:GetWebACLForResource", "wafv2:AssociateWebACL", "wafv2:DisassociateWebACL",
    "shield:GetSubscriptionState", "shield:DescribeProtection", "shield:CreateProtection", "shield:DeleteProtection",
];

describe("control-plane permission policies", () => {
    const vars = { partition: "aws", region: "us-west-2", cluster: "kf-prod" };
    const v2 = statementsOf(loadPolicy("aws-load-balancer-controller", vars));

    describe("GIVEN the AWS Load Balancer Controller policy (albController v2)", () => {
        it("THEN it grants every action the controller calls, and nothing else", () => {
            const granted = new Set(v2.flatMap((s) => list(s.Action)));
            assert.deepEqual([...granted].sort(), [...new Set(UPSTREAM_ACTIONS)].sort());
            assert.ok(v2.every((s) => s.Effect === "Allow"));
        });

        it("THEN no mutating action is granted on * without a condition", () => {
            assert.deepEqual(unconditionedOnStar(v2), []);
        });

        it("THEN on * only the actions IAM cannot scope to a resource go without a resource condition, each held by a request condition", () => {
            assert.deepEqual(unscopedOnStar(v2).sort(), [...ONLY_ON_STAR].sort());
            for (const action of ONLY_ON_STAR) {
                const grants = v2.filter((s) => list(s.Action).includes(action));
                assert.ok(grants.length === 1 && list(grants[0].Resource).join() === "*", `${action} must be granted on *: IAM never matches it against an ARN`);
            }
            assert.deepEqual(v2.find((s) => list(s.Action).includes("elasticloadbalancing:SetWebAcl"))!.Condition, { StringEquals: { "aws:RequestedRegion": "us-west-2" } });
            assert.deepEqual(v2.find((s) => list(s.Action).includes("shield:CreateProtection"))!.Condition, { Null: { "aws:TagKeys": "true" } });
        });

        it("THEN what deletes or rewrites load balancers, target groups and security groups needs the cluster's own tag", () => {
            const destructive = /:(Delete(LoadBalancer|TargetGroup|SecurityGroup)|Modify(LoadBalancer|TargetGroup)\w*|Set(IpAddressType|SecurityGroups|Subnets)|(Authorize|Revoke)SecurityGroupIngress)$/;
            for (const s of v2) {
                for (const action of list(s.Action).filter((a) => destructive.test(a))) {
                    const keys = conditionKeys(s);
                    assert.ok(
                        keys.includes("aws:ResourceTag/elbv2.k8s.aws/cluster") || keys.includes("aws:ResourceTag/kubernetes.io/cluster/kf-prod"),
                        `${s.Sid}: ${action} must require the elbv2.k8s.aws/cluster tag (or, for node security groups, the cluster's kubernetes.io/cluster/kf-prod tag)`,
                    );
                }
            }
            const nodeRules = v2.find((s) => s.Sid === "NodeSecurityGroupRules")!;
            assert.deepEqual(nodeRules.Condition, { Null: { "aws:ResourceTag/kubernetes.io/cluster/kf-prod": "false" } }, "the cluster name is filled in");
        });

        it("THEN creating load balancers, target groups and security groups requires tagging them for the controller", () => {
            for (const action of ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"]) {
                const grants = v2.filter((s) => list(s.Action).includes(action));
                assert.ok(grants.length > 0 && grants.every((s) => conditionKeys(s).includes("aws:RequestTag/elbv2.k8s.aws/cluster")), action);
            }
            const sg = v2.filter((s) => list(s.Action).includes("ec2:CreateSecurityGroup"));
            const onGroups = sg.filter((s) => list(s.Resource).some((r) => r.includes(":security-group/")));
            assert.ok(onGroups.length === 1 && conditionKeys(onGroups[0]).includes("aws:RequestTag/elbv2.k8s.aws/cluster"));
            assert.ok(sg.every((s) => list(s.Resource).every((r) => r.includes(":security-group/") || r.includes(":vpc/"))), "never on *");
        });

        it("THEN the service-linked role it may create is Elastic Load Balancing's, and instances are out of reach", () => {
            const slr = v2.find((s) => list(s.Action).includes("iam:CreateServiceLinkedRole"))!;
            assert.deepEqual(slr.Condition, { StringEquals: { "iam:AWSServiceName": "elasticloadbalancing.amazonaws.com" } });
            assert.deepEqual(list(slr.Resource), ["arn:aws:iam::*:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing"]);
            const all = v2.flatMap((s) => list(s.Action));
            assert.ok(!all.includes("ec2:ModifyInstanceAttribute") && !all.some((a) => a.endsWith(":*")), "no instance rights, no service wildcards");
        });

        it("THEN every ARN is in the stack's partition, and regional ones in its region", () => {
            for (const [region, partition] of [["us-west-2", "aws"], ["cn-north-1", "aws-cn"], ["us-gov-west-1", "aws-us-gov"]]) {
                const filled = statementsOf(loadPolicy("aws-load-balancer-controller", { partition, region, cluster: "kf" }));
                for (const arn of filled.flatMap((s) => list(s.Resource)).filter((r) => r !== "*")) {
                    assert.ok(arn.startsWith(`arn:${partition}:`), arn);
                    const [, , service, arnRegion] = arn.split(":");
                    if (!["iam", "shield"].includes(service)) assert.equal(arnRegion, region, arn);
                }
            }
        });
    });

    describe("GIVEN the legacy alb-ingress-controller policy (albController v1)", () => {
        it("THEN the check above flags it: every mutation on *, limited by region alone (why v2 is the default)", () => {
            const flagged = unscopedOnStar(statementsOf(loadPolicy("alb-ingress", vars)));
            assert.ok(flagged.includes("elasticloadbalancing:DeleteLoadBalancer") && flagged.includes("ec2:ModifyInstanceAttribute"), flagged.join(", "));
        });
    });

    it("GIVEN kf-admin with every component's policy (shared mode, FSx on) THEN they fit IAM's 10,240-character inline quota per role", () => {
        // IAM counts a role's inline policies together, without white space.
        for (const lbc of ["aws-load-balancer-controller", "alb-ingress"]) {
            const total = [lbc, "cloudwatch-logs", "fsx-lustre-csi"].map((name) => loadPolicy(name, vars).replace(/\s/g, "").length).reduce((a, b) => a + b, 0);
            assert.ok(total <= 10_240, `${lbc}: ${total} characters`);
        }
    });

    describe("GIVEN the log shipper's policy (cloudwatch-logs) THEN it reaches the cluster's application logs but never the EKS control-plane (audit) log group", () => {
        const vars: PolicyVariables = { partition: "aws", region: "us-west-2", cluster: "kf-prod" };
        const policies = [{ name: "cloudwatch-logs", document: parsePolicyDocument(loadPolicy("cloudwatch-logs", vars)) }];
        const group = (name: string) => `arn:aws:logs:us-west-2:123456789012:log-group:${name}`;
        const cases: [string, string, string][] = [
            ["logs:PutLogEvents", `${group("/aws/eks/kf-prod/containers")}:log-stream:team-a`, "allowed"],
            ["logs:CreateLogGroup", group("/aws/containerinsights/kf-prod/application"), "allowed"],
            ["logs:PutLogEvents", `${group("/aws/eks/kf-prod/cluster")}:log-stream:kube-apiserver-audit-1`, "explicitly denied"],
            ["logs:PutRetentionPolicy", group("/aws/eks/kf-prod/cluster"), "explicitly denied"],
            ["logs:PutRetentionPolicy", `${group("/aws/eks/kf-prod/cluster")}:*`, "explicitly denied"],
            ["logs:CreateLogStream", `${group("/aws/eks/kf-prod/cluster")}:log-stream:forged`, "explicitly denied"],
            ["logs:PutLogEvents", `${group("/aws/eks/other-cluster/containers")}:log-stream:x`, "implicitly denied"],
            // Container Insights' Fluent Bit (amazon-cloudwatch:fluent-bit): its three log groups, with retention.
            ["logs:PutLogEvents", `${group("/aws/containerinsights/kf-prod/host")}:log-stream:ip-10-0-1-2.ec2.internal`, "allowed"],
            ["logs:CreateLogStream", `${group("/aws/containerinsights/kf-prod/dataplane")}:log-stream:kubelet`, "allowed"],
            ["logs:PutRetentionPolicy", group("/aws/containerinsights/kf-prod/application"), "allowed"],
            ["logs:DescribeLogStreams", group("/aws/eks/kf-prod/cluster"), "explicitly denied"],
            ["logs:DeleteLogGroup", group("/aws/eks/kf-prod/cluster"), "implicitly denied"],
            ["logs:PutLogEvents", `${group("/aws/containerinsights/other-cluster/application")}:log-stream:x`, "implicitly denied"],
        ];
        for (const [action, resource, expected] of cases) {
            it(`WHEN ${action} on ${resource.replace(/^.*log-group:/, "")} THEN ${expected} — iam-simulate agrees`, async () => {
                assert.equal(evaluatePermissions(policies, { action, resource, context: {} }).decision, expected, "evaluatePermissions");
                const principal = "arn:aws:sts::123456789012:assumed-role/kf-logs-us-west-2-kf-prod/fluent-bit";
                assert.equal(await simulate({ identityPolicies: policies, principal, action, resource, account: "123456789012" }), AS_SIMULATED[expected as keyof typeof AS_SIMULATED], "iam-simulate");
            });
        }
    });
});
