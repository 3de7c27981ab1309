// `npm run doctor -- --stack <name> --offline --namespace <ns> --s3 s3://<bucket>/<key>`: can a
// profile's pods read, write and list there, judged from the permission policies `up` would attach
// to the profile's role (synth's model) and the session a pod of that namespace gets. No AWS call.

import { clusterArnOfRole, CLUSTER_ARN_PRINCIPAL_TAG } from "../components/podIdentityTrust";
import { evaluatePermissions, type PermissionVerdict } from "../analysis/permissionEvaluation";
import { bucketNameProblem } from "../components/names";
import { parseRoleRef, sameRole } from "../domain/subjects";
import { selectedProfile } from "./doctorFlags";
import type { StackModel } from "./evaluate";
import type { Synthesis } from "./synthStack";

export interface S3Check {
    access: "read" | "write" | "list";
    action: string;
    resource: string;
    /** s3:prefix of the list request. */
    prefix?: string;
    decision: PermissionVerdict["decision"];
    decidedBy?: string;
    /** Statements with a condition the evaluator does not evaluate. */
    notEvaluated?: string[];
}

export interface S3AccessReport {
    stack: string;
    namespace: string;
    serviceAccount: string;
    role: string;
    roleArn: string;
    object: string;
    /** The session's context as the evaluation saw it. */
    context: Record<string, string>;
    checks: S3Check[];
    /** read allowed: what "can reach" means for the exit code. */
    allowed: boolean;
    /**
     * yes / no for reading, or unknown: the inline policies do not allow it but managed policies
     * (userPolicyArns), not known offline, may; or a condition could not be evaluated.
     */
    verdict: "yes" | "no" | "unknown";
    notes: string[];
}

/**
 * `s3://bucket/key` → bucket and key (the key may be empty or end with "/"). Throws an Error saying
 * what is wrong: the URL's form, or the bucket's name (S3's naming rules).
 */
export function parseS3Url(url: string): { bucket: string; key: string } {
    const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
    if (!m) throw new Error(`--s3: "${url}" is not an s3://<bucket>/<key> URL`);
    const problem = bucketNameProblem(m[1]);
    if (problem) throw new Error(`--s3: in "${url}", the bucket ${problem}`);
    return { bucket: m[1], key: m[2] ?? "" };
}

/** The judgement; throws an Error with a message for the user when the question has no answer here. */
export function s3Access(model: StackModel, synthesis: Synthesis, namespace: string, serviceAccount: string, url: string): S3AccessReport {
    const target = parseS3Url(url);
    const profile = selectedProfile(model, namespace, serviceAccount);
    if (profile.roleArn === "") throw new Error(`--stack ${model.stack}: the stack gives profile "${namespace}" no IAM role (enablePodIamPolicy is false)`);
    const role = synthesis.roles.find((r) => r.managed && sameRole(r.arn, profile.roleArn));
    const roleName = parseRoleRef(profile.roleArn)?.name ?? profile.roleArn;
    if (!role) {
        throw new Error(`profile "${namespace}" uses ${profile.roleArn}, a role this stack does not create: its policies are not known offline; check it with IAM's policy simulator`);
    }
    const partition = parseRoleRef(role.arn)?.partition ?? "aws";
    const bucketArn = `arn:${partition}:s3:::${target.bucket}`;
    const prefix = target.key.includes("/") ? target.key.slice(0, target.key.lastIndexOf("/") + 1) : undefined;
    // A Pod Identity session carries the pod's namespace and service account as tags; an IRSA session none.
    const context: Record<string, string> =
        synthesis.identityMode === "podIdentity"
            ? {
                  "aws:PrincipalTag/kubernetes-namespace": namespace,
                  "aws:PrincipalTag/kubernetes-service-account": serviceAccount,
                  "aws:PrincipalTag/eks-cluster-name": synthesis.clusterName,
                  [CLUSTER_ARN_PRINCIPAL_TAG]: clusterArnOfRole(role.arn, synthesis.region, synthesis.clusterName),
              }
            : {};
    const policies = [...role.permissionPolicies, ...role.managedPolicies];
    const check = (access: S3Check["access"], action: string, resource: string, extra: Record<string, string> = {}, listPrefix?: string): S3Check => {
        const verdict = evaluatePermissions(policies, { action, resource, context: { ...context, ...extra } });
        return {
            access,
            action,
            resource,
            ...(listPrefix !== undefined ? { prefix: listPrefix } : {}),
            decision: verdict.decision,
            ...(verdict.decidedBy ? { decidedBy: verdict.decidedBy } : {}),
            ...(verdict.unsupported.length > 0 ? { notEvaluated: verdict.unsupported } : {}),
        };
    };
    const object = `${bucketArn}/${target.key}`;
    const checks = [
        check("read", "s3:GetObject", object),
        check("write", "s3:PutObject", object),
        check("list", "s3:ListBucket", bucketArn, prefix !== undefined ? { "s3:prefix": prefix } : {}, prefix),
    ];
    const notes = [
        `judged against the inline policies \`up\` would attach to ${role.role} (${policies.map((p) => p.name).join(", ") || "none"}); no AWS call was made`,
        ...(model.config.userPolicyArns.length > 0 ? [`the managed policies in kubeflow-irsa:userPolicyArns (${model.config.userPolicyArns.length}) are not known offline and were not judged: they may allow more`] : []),
        ...(synthesis.identityMode !== "podIdentity" ? ["IRSA sessions carry no namespace tag: a policy scoped by ${aws:PrincipalTag/kubernetes-namespace} matches no pod (use identityMode podIdentity)"] : []),
        "bucket policies, SCPs and KMS key policies are not part of the stack and were not judged",
    ];
    const read = checks[0].decision;
    const managed = model.config.userPolicyArns.length > 0;
    const verdict = read === "allowed" ? "yes" : read === "explicitly denied" ? "no" : read === "undetermined" || managed ? "unknown" : "no";
    return { stack: model.stack, namespace, serviceAccount, role: roleName, roleArn: profile.roleArn, object: url, context, checks, allowed: verdict === "yes", verdict, notes };
}

export function renderS3Access(report: S3AccessReport): string {
    const lines = [`Stack ${report.stack}: can pods of ${report.namespace} (service account ${report.serviceAccount}, role ${report.role}) reach ${report.object}?`, ""];
    for (const c of report.checks) {
        const what = c.access === "list" ? `${c.action} ${c.resource}${c.prefix !== undefined ? ` prefix "${c.prefix}"` : " (no prefix)"}` : `${c.action} ${c.resource}`;
        lines.push(`  ${c.access.padEnd(5)}  ${c.decision.toUpperCase().padEnd(17)}  ${what}${c.decidedBy ? `  (${c.decidedBy})` : ""}`);
        for (const s of c.notEvaluated ?? []) lines.push(`         not evaluated: ${s} (a condition operator this tool does not evaluate)`);
    }
    const answer = {
        yes: `YES: ${report.namespace} can read ${report.object}.`,
        no: `NO: ${report.namespace} cannot read ${report.object}.`,
        unknown: `UNKNOWN: the policies \`up\` attaches do not let ${report.namespace} read ${report.object}, but what they do not show may (see the notes).`,
    }[report.verdict];
    lines.push("", answer);
    for (const note of report.notes) lines.push(`Note: ${note}`);
    return lines.join("\n") + "\n";
}
