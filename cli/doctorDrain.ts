// The doctor's view of moves that are not finished (providers/moves.ts): service accounts of the
// stack's profiles that a role other than their own still trusts — the old role of a profile moved
// by userRoleShards or awsIamRole, kept until kubeflow-irsa:finishMoves so that pods started before
// the move keep their credentials. Pure: the caller reads the roles.

import { evaluateTrustPolicy, trustedOidcProviders } from "../analysis/trustEvaluation";
import { sameRole } from "../domain/subjects";
import { STS_AUDIENCE, type PolicyDocument } from "../domain/trustPolicy";

export interface DrainingRow {
    /** The role that still trusts the service account. */
    role: string;
    namespace: string;
    serviceAccount: string;
    subject: string;
    /** The role the stack now gives the profile. */
    now: string;
}

/** Every (role, service account) where a role trusts a stack profile's account that is now placed on another role. */
export function drainingRows(
    roles: readonly { name: string; roleArn: string; document: PolicyDocument }[],
    accounts: readonly { namespace: string; serviceAccount: string; subject: string; role: string; roleArn: string }[],
): DrainingRow[] {
    const rows: DrainingRow[] = [];
    for (const role of roles) {
        const providers = trustedOidcProviders(role.document);
        for (const a of accounts) {
            if (a.role === "" || sameRole(a.role, role.name)) continue;
            const trusted = providers.some((providerArn) => evaluateTrustPolicy(role.document, { providerArn, sub: a.subject, aud: STS_AUDIENCE }).allowed);
            if (trusted) rows.push({ role: role.name, namespace: a.namespace, serviceAccount: a.serviceAccount, subject: a.subject, now: a.role });
        }
    }
    return rows.sort((x, y) => x.role.localeCompare(y.role) || x.namespace.localeCompare(y.namespace) || x.serviceAccount.localeCompare(y.serviceAccount));
}

/** The report's lines for them; none when nothing drains. */
export function drainingLines(rows: readonly DrainingRow[]): string[] {
    if (rows.length === 0) return [];
    return [
        "",
        "Draining (moves not finished: the old role still trusts the moved service accounts, so pods started before the move keep their credentials;",
        "restart those workloads when convenient, then finish with `pulumi config set kubeflow-irsa:finishMoves true` and `pulumi up`, and remove the key):",
        ...rows.map((r) => `  ${r.role}: ${r.namespace}/${r.serviceAccount} (now on ${r.now})`),
    ];
}
