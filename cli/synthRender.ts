// What a Synthesis is written as by `npm run synth` (cli/synth.ts): the files of the output
// directory, by path (pretty-printed policies, the Kubernetes and Pod Identity YAML, the trust a
// chained role of another account needs, the issuer documents, summary.json), and the summary
// table it prints.

import { targetTrustStatement } from "../components/chaining";
import { clusterArnOfRole } from "../components/podIdentityTrust";
import { parseRoleRef, roleNameOf } from "../domain/subjects";
import type { PolicyDocument } from "../domain/trustPolicy";
import { permissionTable } from "./permissionSizes";
import { AFTER_KUBEFLOW_FILE, ISSUER_DIR, KUBERNETES_FILE, POD_IDENTITY_FILE, SUMMARY_FILE, TARGET_TRUST_DIR } from "./synthFiles";
import { kubernetesYaml, yamlDocuments } from "./synthKubernetes";
import { byName, placeholderNote, type PodIdentityBinding, type Synthesis } from "./synthStack";
import { AFTER_KUBEFLOW, KUBEFLOW_INSTALLED_KEY, OWNED_STATEMENT_NOTE, permissionFile, summaryOf, trustFile, type SynthContext } from "./synthSummary";

/**
 * A policy as written for review: 2-space indented, one subject (or action) per line, so two
 * synths diff line by line. IAM does not count white space; the quota figures are of the
 * minified form.
 */
export function prettyPolicy(document: PolicyDocument): string {
    return `${JSON.stringify(document, null, 2)}\n`;
}

/**
 * For each role of another account a Pod Identity association chains to, the trust policy it needs:
 * one statement per association (each has its own external id, known once `up` created it:
 * `pulumi stack output podIdentityExternalIds`).
 */
export function targetTrustFiles(synthesis: Synthesis): Map<string, PolicyDocument> {
    const byTarget = new Map<string, PodIdentityBinding[]>();
    for (const a of synthesis.podIdentityAssociations.filter((x) => x.targetRoleArn)) byTarget.set(a.targetRoleArn!, [...(byTarget.get(a.targetRoleArn!) ?? []), a]);
    const files = new Map<string, PolicyDocument>();
    for (const [target, associations] of [...byTarget].sort(([a], [b]) => byName(a, b))) {
        const ref = parseRoleRef(target);
        const statements = associations.map((a, i) => ({
            ...targetTrustStatement(a.roleArn, `<externalId of ${a.namespace}/${a.serviceAccount}: pulumi stack output podIdentityExternalIds>`, clusterArnOfRole(a.roleArn, synthesis.region, a.clusterName), a.namespace, a.serviceAccount),
            Sid: `EksPodIdentity${i}`,
        }));
        files.set(`${TARGET_TRUST_DIR}/${ref?.accountId ?? "unknown"}-${ref?.name ?? "role"}.json`, { Version: "2012-10-17", Statement: statements });
    }
    return files;
}

/** The files of a synthesis, by path relative to the output directory. */
export function renderFiles(synthesis: Synthesis, context: SynthContext = { phase: AFTER_KUBEFLOW }): Map<string, string> {
    const files = new Map<string, string>();
    for (const role of synthesis.roles) {
        files.set(trustFile(role), prettyPolicy(role.document));
        for (const policy of [...role.permissionPolicies, ...role.managedPolicies]) files.set(permissionFile(role, policy.name), prettyPolicy(policy.document));
    }
    const source = `Generated offline by \`npm run synth -- --stack ${synthesis.stack}\` (${synthesis.project}) from the program's registered resources.`;
    const placeholders = `${placeholderNote(synthesis.placeholderAccount, synthesis.accountFromConfig)}.`;
    files.set(
        KUBERNETES_FILE,
        kubernetesYaml([`Kubernetes objects stack "${synthesis.stack}" applies with \`pulumi up\`.`, source, placeholders], synthesis.kubernetes),
    );
    if (context.afterKubeflow) {
        files.set(
            AFTER_KUBEFLOW_FILE,
            kubernetesYaml(
                [
                    `Kubernetes objects stack "${synthesis.stack}" adds with the \`up\` after \`pulumi config set ${KUBEFLOW_INSTALLED_KEY} true\``,
                    "(once Kubeflow and its Profile CRD are installed): the program evaluated a second time with that override.",
                    source,
                    placeholders,
                ],
                context.afterKubeflow,
            ),
        );
    }
    if (synthesis.podIdentityAssociations.length > 0) {
        files.set(
            POD_IDENTITY_FILE,
            yamlDocuments(
                [
                    `EKS Pod Identity associations stack "${synthesis.stack}" creates through the EKS API with \`pulumi up\` (aws.eks.PodIdentityAssociation).`,
                    "These are not Kubernetes objects: do not apply them with kubectl. One association per service account.",
                    source,
                    placeholders,
                ],
                synthesis.podIdentityAssociations.map(({ name, clusterName, namespace, serviceAccount, roleArn, targetRoleArn }) => ({
                    body: { name, clusterName, namespace, serviceAccount, roleArn, ...(targetRoleArn ? { targetRoleArn } : {}) },
                })),
            ),
        );
    }
    for (const [file, document] of targetTrustFiles(synthesis)) files.set(file, prettyPolicy(document));
    for (const [key, content] of synthesis.issuerDocuments) files.set(`${ISSUER_DIR}/${key}`, content);
    files.set(SUMMARY_FILE, `${JSON.stringify(summaryOf(synthesis, context), null, 2)}\n`);
    return files;
}

function table(rows: string[][], rightAligned: number[]): string {
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    return rows
        .map((r) => r.map((cell, i) => (rightAligned.includes(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join("  ").trimEnd())
        .join("\n");
}

export function summaryTable(synthesis: Synthesis): string {
    const lines: string[] = [];
    if (synthesis.roles.length === 0) {
        lines.push("No IAM roles: the stack manages no IAM (kubeflow-irsa:enablePodIamPolicy is false).");
    } else {
        const rows = [["ROLE", "SUBJECTS", "CHARS / QUOTA", "HEADROOM"]];
        for (const r of synthesis.roles) {
            const external = r.scope === "owned-statement";
            rows.push([
                external ? `${r.role} *` : r.role,
                String(r.subjects.length),
                `${r.chars} / ${r.limit}`,
                external ? `≤ ${r.headroom}` : String(r.headroom),
            ]);
        }
        lines.push(table(rows, [1, 2, 3]));
        if (synthesis.roles.some((r) => r.scope === "owned-statement")) {
            lines.push(`* not managed by this stack: ${OWNED_STATEMENT_NOTE}; its characters only, so the role's real headroom is at most this.`);
        }
        if (synthesis.identityMode === "podIdentity") {
            lines.push("Pod Identity: trust policies are fixed (pods.eks.amazonaws.com); SUBJECTS counts the service accounts associated with each role.");
        }
        lines.push(...permissionTable(synthesis.roles.filter((r) => r.managed)));
    }
    const targets = [...targetTrustFiles(synthesis).keys()];
    if (targets.length > 0) {
        lines.push(`Chained to roles of other accounts: each must trust its association's role with the association's external id, as ${targets.join(", ")} say.`);
    }
    const unmanaged = [...new Set(synthesis.podIdentityAssociations.filter((a) => !a.roleManaged).map((a) => roleNameOf(a.roleArn)))];
    if (unmanaged.length > 0) {
        lines.push(`Associated but not managed by this stack (their trust policies must allow pods.eks.amazonaws.com, pinned with aws:RequestTag/eks-cluster-arn): ${unmanaged.join(", ")}`);
    }
    return lines.join("\n");
}
