// What a TrustSubjects resource owns in its role, and what each operation must change so that the
// role ends up trusting exactly that. Pure functions over the resource's inputs and state, no I/O.
//
// State must always own what IAM may hold: an operation that fails after a write was sent leaves
// a state that names every owned subject the role may now trust (the old ones and the attempted
// ones, under every provider involved), so the next `up`, a config revert or a destroy converges.

import { drainingOf, NO_MOVES, type MoveSettings } from "./moves";
import { ANCHOR_NAMESPACE } from "../domain/subjects";
import type { TrustChange } from "../domain/trustChanges";
import { canonicalPolicy, DEFAULT_MAX_POLICY_CHARS, type PolicyDocument, type PolicyStatement } from "../domain/trustPolicy";

/** How the Pulumi engine spells an unknown value (a preview-time Output) to a dynamic provider. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Inputs after `check`: plain, validated, normalized. */
export interface TrustSubjectsInputs {
    role: string;
    /** The OIDC provider whose tokens the subjects come from; "" when the role trusts no provider (subjects and anchors are then empty). */
    providerArn: string;
    subjects: string[];
    maxPolicyChars: number;
    allowWildcards: boolean;
    anchors: string[];
    /** Statements this stack wrote to the role by other means and retires (see StatementRetirement). */
    retiredStatements: PolicyStatement[];
    /**
     * Whole statements the role must hold and this resource owns (a managed role's Pod Identity
     * trust): added where missing; one the inputs stop naming is retired. Kept on delete, like
     * anchors, so the trust policy never runs empty.
     */
    statements: PolicyStatement[];
    /**
     * The stack that owns the resource (`<organization>/<project>/<stack>`): names its write-ahead
     * record on the role (./intent). "" in states of versions before the record.
     */
    owner: string;
}

/** Owned subjects that may be in the role under one OIDC provider. */
export interface HeldSubjects {
    providerArn: string;
    subjects: string[];
}

export interface TrustSubjectsOutputs extends TrustSubjectsInputs {
    /** The role's name (what IAM's API takes). */
    roleName: string;
    roleArn: string;
    /** Characters of the role's trust policy as last written or read. */
    policyChars: number;
    /**
     * Owned subjects the role may hold beyond `subjects`: under earlier providers, what an
     * interrupted move to a new cluster may have left (anchors included); under the current one,
     * what a refresh did not see (IAM's reads lag). The next update or delete removes those the
     * inputs no longer name. Empty after every operation that completed.
     */
    leftovers: HeldSubjects[];
    /**
     * Owned subjects under the current provider that the inputs no longer name but the stack still
     * grants on another role (a moved profile): kept in the role until the move is finished (see
     * ./moves). Empty when nothing drains.
     */
    draining: string[];
}

export function isUnknown(value: unknown): boolean {
    return value === UNKNOWN || (Array.isArray(value) && value.includes(UNKNOWN));
}

const sortedSet = (values: readonly string[]) => [...new Set(values)].sort();

/**
 * Inputs as `check` leaves them, for callers that skip `check` (the engine never does) and for
 * states written by earlier versions: defaults applied, subjects deduplicated and sorted. Unknown
 * values pass through.
 */
export function normalized<T extends TrustSubjectsInputs>(inputs: T): T {
    return {
        ...inputs,
        subjects: Array.isArray(inputs.subjects) ? sortedSet(inputs.subjects) : (inputs.subjects ?? []),
        maxPolicyChars: inputs.maxPolicyChars ?? DEFAULT_MAX_POLICY_CHARS,
        allowWildcards: inputs.allowWildcards ?? false,
        anchors: Array.isArray(inputs.anchors) ? sortedSet(inputs.anchors) : (inputs.anchors ?? []),
        retiredStatements: Array.isArray(inputs.retiredStatements) ? inputs.retiredStatements : [],
        statements: Array.isArray(inputs.statements) ? inputs.statements : [],
        providerArn: inputs.providerArn ?? "",
        owner: typeof inputs.owner === "string" ? inputs.owner : "",
    };
}

/** A state as `normalized` leaves inputs; states of earlier versions have no leftovers. */
export function normalizedState(state: TrustSubjectsOutputs): TrustSubjectsOutputs {
    return { ...normalized(state), leftovers: Array.isArray(state.leftovers) ? state.leftovers : [], draining: Array.isArray(state.draining) ? sortedSet(state.draining) : [] };
}

/** Everything the resource makes the role trust: its subjects and its anchors. */
export function trusted(inputs: TrustSubjectsInputs): string[] {
    return isUnknown(inputs.subjects) || isUnknown(inputs.anchors) ? [] : sortedSet([...inputs.subjects, ...inputs.anchors]);
}

/** What the state says the role may hold for this resource, per provider (current one first). */
export function held(state: TrustSubjectsOutputs): HeldSubjects[] {
    return mergeHeld([{ providerArn: state.providerArn, subjects: [...trusted(state), ...(state.draining ?? [])] }, ...state.leftovers]);
}

/**
 * After an update: the owned subjects under the new provider that the inputs drop and that drain
 * (their profile moved to another role and the move is not finished). Under another provider
 * nothing drains: a new cluster's pods hold tokens of the new issuer.
 */
export function drainingAfter(olds: TrustSubjectsOutputs, news: TrustSubjectsInputs, settings: MoveSettings = NO_MOVES): string[] {
    const keep = new Set(trusted(news));
    const dropped = held(olds)
        .filter((e) => e.providerArn === news.providerArn && news.providerArn !== "")
        .flatMap((e) => e.subjects)
        .filter((s) => !keep.has(s) && !olds.anchors.includes(s));
    return sortedSet(drainingOf(dropped, settings));
}

/** One entry per provider, subjects deduplicated and sorted, empty entries dropped. */
export function mergeHeld(entries: HeldSubjects[]): HeldSubjects[] {
    const byProvider = new Map<string, string[]>();
    for (const e of entries) byProvider.set(e.providerArn, [...(byProvider.get(e.providerArn) ?? []), ...e.subjects]);
    return [...byProvider].map(([providerArn, subjects]) => ({ providerArn, subjects: sortedSet(subjects) })).filter((e) => e.subjects.length > 0);
}

const canonical = (s: PolicyStatement) => canonicalPolicy(s as unknown as PolicyDocument);

/** Statements of `a` that `b` does not hold exactly. */
function statementsMinus(a: readonly PolicyStatement[], b: readonly PolicyStatement[]): PolicyStatement[] {
    const inB = new Set(b.map(canonical));
    return a.filter((s) => !inB.has(canonical(s)));
}

/** The owned statements first (they keep the document non-empty while subjects go), then the provider's subjects. */
function additions(inputs: TrustSubjectsInputs): TrustChange[] {
    return [
        ...(inputs.statements.length > 0 ? [{ ensure: inputs.statements }] : []),
        ...(inputs.providerArn ? [{ providerArn: inputs.providerArn, add: trusted(inputs), remove: [] }] : []),
    ];
}

/** A create: the owned statements and the new provider's subjects and anchors are added; retired statements go, and the role's first statement under an earlier provider. */
export function createChanges(inputs: TrustSubjectsInputs): TrustChange[] {
    return [...additions(inputs), ...initialRetirement(inputs), ...retirements(inputs.retiredStatements)];
}

/**
 * A role this stack creates keeps nothing of its first trust statement under an earlier provider:
 * the stack's own aws.iam.Role wrote it, and when the cluster changed before this resource ever
 * wrote (its create failed first), no state names it (see InitialStatementRetirement). Only for
 * anchors no pod can hold (kf-user's, kf-admin's: ANCHOR_NAMESPACE): that statement is then the
 * stack's beyond doubt. A component role's anchor is its controller's real service account, and a
 * person letting another cluster's controller use the role writes exactly that statement.
 */
function initialRetirement(inputs: TrustSubjectsInputs): TrustChange[] {
    const known = !isUnknown(inputs.anchors) && !isUnknown(inputs.providerArn);
    if (!known || inputs.providerArn === "" || inputs.anchors.length === 0) return [];
    if (!inputs.anchors.every((s) => s.split(":")[2] === ANCHOR_NAMESPACE)) return [];
    return [{ retireInitial: { anchors: inputs.anchors, providerArn: inputs.providerArn } }];
}

function retirements(statements: readonly PolicyStatement[]): TrustChange[] {
    return statements.length > 0 ? [{ retire: statements }] : [];
}

/**
 * An update, as one read-modify-write of the role: the (possibly new) provider's statement gains
 * every subject and anchor first, then owned subjects no longer wanted go — under the current
 * provider the dropped subjects (and anchors the inputs no longer name), under any other provider the
 * state names (an earlier cluster, or what an interrupted move left) everything, anchors too:
 * they moved to the new provider, and nothing this resource wrote for an old provider stays —
 * nor the statement its role was created with (initialRetirement), which no state may name.
 */
export function updateChanges(olds: TrustSubjectsOutputs, news: TrustSubjectsInputs, settings: MoveSettings = NO_MOVES): TrustChange[] {
    const keep = new Set([...trusted(news), ...drainingAfter(olds, news, settings)]);
    const changes: TrustChange[] = additions(news);
    for (const entry of held(olds)) {
        // `keep` holds the new anchors: an anchor the inputs no longer name is an owned subject like any other.
        const remove = entry.providerArn === news.providerArn ? entry.subjects.filter((s) => !keep.has(s)) : entry.subjects;
        if (remove.length > 0) changes.push({ providerArn: entry.providerArn, add: [], remove });
    }
    // Owned statements the inputs stop naming go too (a switch from Pod Identity back to IRSA).
    const retired = [...news.retiredStatements, ...statementsMinus(olds.statements, [...news.statements, ...news.retiredStatements])];
    return [...changes, ...initialRetirement(news), ...retirements(retired)];
}

/**
 * A delete: every owned subject goes, under every provider the state names, but those in `keep`
 * (moves a delete may not finish, see ./moves); anchors stay under the current provider. The removals come after what keeps
 * the document non-empty — the anchors, or else the owned statements — added where a partial
 * write left them out: the state owns them, but IAM need not hold them. No removal, no change.
 */
export function deleteChanges(state: TrustSubjectsOutputs, keep: readonly string[] = []): TrustChange[] {
    const kept = new Set(keep);
    // Anchors stay under the current provider only: under another one (what a move left) they went with the move.
    const anchored = (providerArn: string) => (providerArn === state.providerArn ? new Set(state.anchors) : new Set<string>());
    const removals = held(state)
        .map((e) => ({ providerArn: e.providerArn, add: [], remove: e.subjects.filter((s) => !kept.has(s) && !anchored(e.providerArn).has(s)) }))
        .filter((c) => c.remove.length > 0);
    if (removals.length === 0) return [];
    const floor: TrustChange[] =
        state.anchors.length > 0 && state.providerArn
            ? [{ providerArn: state.providerArn, add: state.anchors, remove: [] }]
            : state.statements.length > 0
              ? [{ ensure: state.statements }]
              : [];
    return [...floor, ...removals];
}

/**
 * The state an operation works from, extended by what an earlier write of this stack recorded
 * before it was sent and the role holds (./intent: the process died before the engine heard back,
 * so the state never learnt of it): owned like leftovers, so what the inputs do not name goes.
 * A create has no state: it works from one that owns nothing but that.
 */
export function withPending(state: TrustSubjectsOutputs | undefined, inputs: TrustSubjectsInputs, pending: readonly HeldSubjects[]): TrustSubjectsOutputs {
    const base: TrustSubjectsOutputs = state ?? { ...inputs, subjects: [], anchors: [], statements: [], retiredStatements: [], roleName: "", roleArn: "", policyChars: 0, leftovers: [], draining: [] };
    return pending.length === 0 ? base : { ...base, leftovers: mergeHeld([...base.leftovers, ...pending]) };
}

/** Whether the state asks for an update even when the inputs did not change. */
export function hasLeftovers(state: TrustSubjectsOutputs): boolean {
    return state.leftovers.length > 0;
}

/**
 * The state after a create or update that sent a write and then failed: the role may hold the
 * old owned subjects, the attempted ones, or a mix. It owns all of them — under the new provider
 * the union of the new subjects and the old ones held there, under every other provider what the
 * old state held (as leftovers) — so the next `up` finishes the change, and a revert or a destroy
 * removes what the attempt may have added.
 */
export function partialState(olds: TrustSubjectsOutputs | undefined, news: TrustSubjectsInputs, role: Pick<TrustSubjectsOutputs, "roleName" | "roleArn" | "policyChars">): TrustSubjectsOutputs {
    const before = olds ? held(olds) : [];
    const here = before.filter((e) => e.providerArn === news.providerArn).flatMap((e) => e.subjects);
    return {
        ...news,
        ...role,
        // Old statements stay owned with the new ones: the write may or may not have replaced them.
        statements: [...news.statements, ...statementsMinus(olds?.statements ?? [], news.statements)],
        // Old anchors the inputs no longer name stay owned, as subjects.
        subjects: sortedSet([...news.subjects, ...here.filter((s) => !news.anchors.includes(s))]),
        leftovers: mergeHeld(before.filter((e) => e.providerArn !== news.providerArn)),
        // Draining subjects stay owned among the subjects; the next update sorts them out again.
        draining: [],
    };
}
