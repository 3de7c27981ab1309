// What a TrustSubjects resource owns in its role, and what each operation must change so that the
// role ends up trusting exactly that. Pure functions over the resource's inputs and state, no I/O.
//
// State must always own what IAM may hold: an operation that fails after a write was sent leaves
// a state that names every owned subject the role may now trust (the old ones and the attempted
// ones, under every provider involved), so the next `up`, a config revert or a destroy converges.

import { DEFAULT_MAX_POLICY_CHARS, type PolicyStatement, type TrustChange } from "./trustPolicy";

/** How the Pulumi engine spells an unknown value (a preview-time Output) to a dynamic provider. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Inputs after `check`: plain, validated, normalized. */
export interface TrustSubjectsInputs {
    role: string;
    providerArn: string;
    subjects: string[];
    maxPolicyChars: number;
    allowWildcards: boolean;
    anchors: string[];
    /** Statements this stack wrote to the role by other means and retires (see StatementRetirement). */
    retiredStatements: PolicyStatement[];
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
    };
}

/** A state as `normalized` leaves inputs; states of earlier versions have no leftovers. */
export function normalizedState(state: TrustSubjectsOutputs): TrustSubjectsOutputs {
    return { ...normalized(state), leftovers: Array.isArray(state.leftovers) ? state.leftovers : [] };
}

/** Everything the resource makes the role trust: its subjects and its anchors. */
export function trusted(inputs: TrustSubjectsInputs): string[] {
    return isUnknown(inputs.subjects) || isUnknown(inputs.anchors) ? [] : sortedSet([...inputs.subjects, ...inputs.anchors]);
}

/** What the state says the role may hold for this resource, per provider (current one first). */
export function held(state: TrustSubjectsOutputs): HeldSubjects[] {
    return mergeHeld([{ providerArn: state.providerArn, subjects: trusted(state) }, ...state.leftovers]);
}

/** One entry per provider, subjects deduplicated and sorted, empty entries dropped. */
export function mergeHeld(entries: HeldSubjects[]): HeldSubjects[] {
    const byProvider = new Map<string, string[]>();
    for (const e of entries) byProvider.set(e.providerArn, [...(byProvider.get(e.providerArn) ?? []), ...e.subjects]);
    return [...byProvider].map(([providerArn, subjects]) => ({ providerArn, subjects: sortedSet(subjects) })).filter((e) => e.subjects.length > 0);
}

/** A create: the new provider's statement gains every subject and anchor; retired statements go. */
export function createChanges(inputs: TrustSubjectsInputs): TrustChange[] {
    return [{ providerArn: inputs.providerArn, add: trusted(inputs), remove: [] }, ...retirements(inputs)];
}

function retirements(inputs: TrustSubjectsInputs): TrustChange[] {
    return inputs.retiredStatements.length > 0 ? [{ retire: inputs.retiredStatements }] : [];
}

/**
 * An update, as one read-modify-write of the role: the (possibly new) provider's statement gains
 * every subject and anchor first, then owned subjects no longer wanted go — under the current
 * provider the dropped subjects (and anchors the inputs no longer name), under any other provider the
 * state names (an earlier cluster, or what an interrupted move left) everything, anchors too:
 * they moved to the new provider, and nothing this resource wrote for an old provider stays.
 */
export function updateChanges(olds: TrustSubjectsOutputs, news: TrustSubjectsInputs): TrustChange[] {
    const keep = new Set(trusted(news));
    const changes: TrustChange[] = [{ providerArn: news.providerArn, add: [...keep], remove: [] }];
    for (const entry of held(olds)) {
        // `keep` holds the new anchors: an anchor the inputs no longer name is an owned subject like any other.
        const remove = entry.providerArn === news.providerArn ? entry.subjects.filter((s) => !keep.has(s)) : entry.subjects;
        if (remove.length > 0) changes.push({ providerArn: entry.providerArn, add: [], remove });
    }
    return [...changes, ...retirements(news)];
}

/** A delete: every owned subject goes, under every provider the state names; anchors stay. */
export function deleteChanges(state: TrustSubjectsOutputs): TrustChange[] {
    return held(state)
        .map((e) => ({ providerArn: e.providerArn, add: [], remove: e.subjects.filter((s) => !state.anchors.includes(s)) }))
        .filter((c) => c.remove.length > 0);
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
        // Old anchors the inputs no longer name stay owned, as subjects.
        subjects: sortedSet([...news.subjects, ...here.filter((s) => !news.anchors.includes(s))]),
        leftovers: mergeHeld(before.filter((e) => e.providerArn !== news.providerArn)),
    };
}
