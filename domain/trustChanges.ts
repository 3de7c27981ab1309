// Changes to a whole trust policy, composed from the algebra of ./trustPolicy: owned subjects of a
// provider (SubjectChange), whole statements the stack wrote by other means (retired or ensured),
// and a managed role's first statement under an earlier provider. Pure functions, no I/O: one
// TrustSubjects operation is one list of changes, applied in order to the document it reads.

import { parseOidcProviderArn } from "./subjects";
import {
    applySubjectChange,
    buildTrustPolicy,
    canonicalPolicy,
    hardenedProblem,
    statementsOf,
    TrustPolicyError,
    type EditResult,
    type PolicyDocument,
    type PolicyStatement,
    type SubjectChange,
} from "./trustPolicy";

/**
 * Statements to take out of a document where they appear exactly (key order aside): a statement
 * this stack wrote through another resource and no longer wants, such as a managed role's Pod
 * Identity trust after a switch back to IRSA. A statement that differs in anything stays.
 */
export interface StatementRetirement {
    retire: readonly PolicyStatement[];
}

/**
 * Whole statements the role must hold (a managed role's Pod Identity trust): each is added at the
 * end unless the document already holds it exactly (key order aside).
 */
export interface StatementEnsure {
    ensure: readonly PolicyStatement[];
}

/**
 * A role this stack creates is created with one trust statement of its own (components/roles.ts):
 * its anchors alone, under the OIDC provider of that day. That statement, under any provider other
 * than `providerArn` (the cluster changed), is taken out where it appears exactly (key order
 * aside): the stack wrote it, through the role, even when the role's TrustSubjects never wrote
 * under that provider and so does not name it in its state (its first write failed before the
 * cluster changed). A statement that differs in anything — another subject, a Sid, a condition —
 * is not that statement, and stays.
 */
export interface InitialStatementRetirement {
    retireInitial: { anchors: readonly string[]; providerArn: string };
}

export type TrustChange = SubjectChange | StatementRetirement | StatementEnsure | InitialStatementRetirement;

const canonical = (s: PolicyStatement) => canonicalPolicy(s as unknown as PolicyDocument);

/** Removes the statements equal to one of `statements`; throws when nothing would be left. */
export function retireStatements(document: PolicyDocument, statements: readonly PolicyStatement[]): EditResult {
    const retired = new Set(statements.map(canonical));
    const all = statementsOf(document);
    const kept = all.filter((s) => !retired.has(canonical(s)));
    if (kept.length === all.length) return { document, changed: false };
    if (kept.length === 0) throw new TrustPolicyError("retiring these statements would leave the trust policy with no statement, and IAM has no empty trust policy");
    const single = !Array.isArray(document.Statement) && kept.length === 1;
    return { document: { ...document, Statement: single ? kept[0] : kept }, changed: true };
}

/** Adds each statement the document does not hold exactly. */
export function ensureStatements(document: PolicyDocument, statements: readonly PolicyStatement[]): EditResult {
    const all = statementsOf(document);
    const present = new Set(all.map(canonical));
    const missing = statements.filter((s) => !present.has(canonical(s)));
    if (missing.length === 0) return { document, changed: false };
    return { document: { ...document, Statement: [...all, ...missing] }, changed: true };
}

/**
 * The statements of the document that are exactly the first trust statement of a role created
 * with these anchors (buildTrustPolicy, as components/roles.ts writes it) under an OIDC provider
 * other than `providerArn`.
 */
export function initialStatementsIn(document: PolicyDocument, anchors: readonly string[], providerArn: string): PolicyStatement[] {
    if (anchors.length === 0) return [];
    return statementsOf(document).filter((statement) => {
        const principal = statement.Principal;
        const federated = typeof principal === "object" && principal !== null ? principal.Federated : undefined;
        if (typeof federated !== "string" || federated === providerArn || !parseOidcProviderArn(federated)) return false;
        return statementsOf(buildTrustPolicy(federated, anchors)).some((initial) => canonical(initial) === canonical(statement));
    });
}

/**
 * Applies changes in order (additions first keep the document non-empty). Statements a person
 * hardened are checked first against every owned subject of all the changes, so the refusal
 * names them all, not only those of the first change that meets the statement.
 */
export function applyTrustChanges(document: PolicyDocument, changes: readonly TrustChange[]): EditResult {
    const owned = new Map<string, string[]>();
    for (const change of changes) {
        if ("providerArn" in change) owned.set(change.providerArn, [...(owned.get(change.providerArn) ?? []), ...change.add, ...change.remove]);
    }
    for (const [providerArn, subjects] of owned) {
        const problem = hardenedProblem(statementsOf(document), providerArn, [...new Set(subjects)]);
        if (problem) throw new TrustPolicyError(problem);
    }
    let result: EditResult = { document, changed: false };
    for (const change of changes) {
        const edit = applyTrustChange(result.document, change);
        result = { document: edit.document, changed: result.changed || edit.changed };
    }
    return result;
}

/** One change of any kind. */
export function applyTrustChange(document: PolicyDocument, change: TrustChange): EditResult {
    if ("retire" in change) return retireStatements(document, change.retire);
    if ("ensure" in change) return ensureStatements(document, change.ensure);
    if ("retireInitial" in change) return retireStatements(document, initialStatementsIn(document, change.retireInitial.anchors, change.retireInitial.providerArn));
    return applySubjectChange(document, change);
}
