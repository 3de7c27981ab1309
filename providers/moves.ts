// Make before break: a subject that leaves a role while the stack still grants it (its profile
// moved to another role: more or fewer userRoleShards, a new awsIamRole) stays trusted on the old
// role — "draining" — until the user finishes the move (kubeflow-irsa:finishMoves). EKS injects a
// pod's role ARN when the pod starts; a running pod keeps it until restarted, so cutting the old
// trust in the same `up` would break every running workload of the moved profile.
//
// The provider learns what the stack grants from the stack config the host passes to
// `configure` (kubeflow-irsa:profiles), the one place that knows it without every resource
// carrying the whole stack's subject list in its state. Pure functions, no I/O.

import { DEFAULT_EDITOR, sameRole, subjectOf } from "../domain/subjects";

export interface MoveSettings {
    /** Subject → the awsIamRole its profile names ("" for the stack's kf-user roles); undefined: no stack config, nothing drains. */
    granted?: Map<string, string>;
    /** finishMoves: true finishes every move, a list the moves of those profiles. */
    finish: boolean | Set<string>;
}

export const NO_MOVES: MoveSettings = { finish: true };

function parsed(value: unknown): unknown {
    if (typeof value !== "string") return value;
    const text = value.trim();
    if (!text.startsWith("[") && !text.startsWith("{")) return value;
    try {
        return JSON.parse(text);
    } catch {
        return undefined;
    }
}

/**
 * What the stack config says about moves. The program validates these keys before anything is
 * registered; here only their meaning is read. In podIdentity mode nothing drains: the roles'
 * OIDC trust goes with the mode (see README, Pod Identity mode).
 */
export function moveSettingsFromConfig(get: (key: string) => unknown): MoveSettings {
    const finishRaw = parsed(get("kubeflow-irsa:finishMoves"));
    const finish = finishRaw === true || finishRaw === "true" ? true : Array.isArray(finishRaw) ? new Set(finishRaw.map(String)) : false;
    const profiles = parsed(get("kubeflow-irsa:profiles"));
    if (!Array.isArray(profiles) || get("kubeflow-irsa:identityMode") === "podIdentity") return { finish };
    const granted = new Map<string, string>();
    for (const profile of profiles as { name?: unknown; serviceAccounts?: unknown; awsIamRole?: unknown }[]) {
        if (typeof profile?.name !== "string") continue;
        const accounts = Array.isArray(profile.serviceAccounts) ? profile.serviceAccounts.map(String) : [DEFAULT_EDITOR];
        for (const sa of accounts) granted.set(subjectOf(profile.name, sa), typeof profile.awsIamRole === "string" ? profile.awsIamRole : "");
    }
    return { granted, finish };
}

/** The namespace of a subject (`system:serviceaccount:<namespace>:<name>`). */
function namespaceOf(subject: string): string {
    return subject.split(":")[2] ?? "";
}

function finished(subject: string, settings: MoveSettings): boolean {
    return settings.finish === true || (settings.finish instanceof Set && settings.finish.has(namespaceOf(subject)));
}

/**
 * Of the owned subjects an update drops, those that drain: the stack still grants them (on
 * another role) and their move is not finished. The others go now — a profile or service
 * account removed from the config loses its trust in the same `up`.
 */
export function drainingOf(dropped: readonly string[], settings: MoveSettings): string[] {
    const granted = settings.granted;
    if (!granted) return [];
    return dropped.filter((s) => granted.has(s) && !finished(s, settings));
}

/** Whether a state's draining subjects would change under these settings (diff asks for an update). */
export function drainChanged(draining: readonly string[], settings: MoveSettings): boolean {
    return drainingOf(draining, settings).length !== draining.length;
}

/**
 * Subjects a delete would cut off although their move is not finished: owned subjects of a role
 * the stack does not create (no anchors, no owned statements) whose profile the config now places
 * on another role — another awsIamRole, or none (back on the stack's kf-user roles). A role left
 * by its last profile leaves the program, which then no longer knows it: the delete removes what
 * the config no longer grants and refuses to remove these, and finishMoves lets them go.
 *
 * A role that the config still gives a profile is not being left but destroyed (`pulumi destroy`
 * runs with the stack config unchanged): nothing is refused, draining subjects of earlier moves
 * included — the roles they moved to go in the same destroy. The stack's own roles are deleted
 * only on purpose (destroy, a mode switch, finishMoves: the program keeps a draining kf-user shard
 * registered), and never refuse.
 */
export function unfinishedMovesOnDelete(
    state: {
        role: string;
        roleArn?: string;
        providerArn?: string;
        subjects: string[];
        anchors: string[];
        statements?: unknown[];
        draining?: string[];
        leftovers?: { providerArn: string; subjects: string[] }[];
    },
    settings: MoveSettings,
): string[] {
    const granted = settings.granted;
    if (!granted || state.anchors.length > 0 || (state.statements ?? []).length > 0) return [];
    const here = state.roleArn ?? state.role;
    const placedHere = (s: string) => {
        const target = granted.get(s);
        return target !== undefined && target !== "" && sameRole(target, here);
    };
    // What a lagging refresh did not see is held as leftovers under the current provider: still owned, still someone's pods.
    const unseen = (state.leftovers ?? []).filter((e) => e.providerArn === state.providerArn).flatMap((e) => e.subjects);
    if ([...state.subjects, ...unseen].some(placedHere)) return [];
    return [...new Set([...state.subjects, ...(state.draining ?? []), ...unseen])].filter((s) => granted.has(s) && !finished(s, settings)).sort();
}
