// The TrustSubjects provider as tests/providers/trustSubjects*.test.ts drive it: a local IAM
// endpoint whose account has the quota raised to 4096, the provider loaded from the `__provider`
// text a resource registers under mocks (as the Pulumi host loads it), an engine for `up`, and
// the views that tell this stack's subjects from a shared role's foreign trust.

import { ACCOUNT, DEV_SUB, sa, sharedRolePolicy } from "./fixtures";
import { FakeIam } from "./fakeIam";
import { Engine, loadAsHost, registeredTrustSubjects, useLocalIam, type Provider, type State } from "./host";
import type { PolicyDocument } from "../../domain/trustPolicy";

/** Every subject this stack ever owns in these tests; the rest of a document is foreign. */
export const OURS = new Set([sa("alice"), sa("bob"), sa("carol"), sa("dave"), sa("team-a", "runner-*")]);

export const NS8 = (i: number) => `ns${String(i).padStart(6, "0")}`; // 8 characters
/** n profile subjects of the shape the capacity figures use: system:serviceaccount:<8-char ns>:default-editor. */
export const profiles = (n: number, from = 0) => Array.from({ length: n }, (_, i) => sa(NS8(from + i)));
export const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The document without our subjects (only KubeflowUsers and CiRunners are ours to edit). */
export function foreignView(doc: PolicyDocument): unknown {
    const copy = JSON.parse(JSON.stringify(doc));
    for (const statement of asList<any>(copy.Statement)) {
        if (statement.Sid === "KubeflowUsers") statement.Condition.StringEquals[DEV_SUB] = asList(statement.Condition.StringEquals[DEV_SUB]).filter((v) => !OURS.has(v as string));
        if (statement.Sid === "CiRunners") statement.Condition.StringLike[DEV_SUB] = asList(statement.Condition.StringLike[DEV_SUB]).filter((v) => !OURS.has(v as string));
    }
    return copy;
}

/** Our subjects that the role really trusts (in the statements we may edit). */
export function ownedView(doc: PolicyDocument): string[] {
    const values = asList<any>(doc.Statement)
        .filter((s) => s.Sid === "KubeflowUsers" || s.Sid === "CiRunners")
        .flatMap((s) => [...asList(s.Condition.StringEquals?.[DEV_SUB]), ...asList(s.Condition.StringLike?.[DEV_SUB])]);
    return (values as string[]).filter((v) => OURS.has(v)).sort();
}

export async function rejection(p: Promise<unknown>): Promise<Error> {
    try {
        await p;
    } catch (err) {
        return err as Error;
    }
    throw new Error("expected a failure");
}

/** What the tests of a suite drive: filled in before its first test. */
export interface ProviderSuite {
    fake: FakeIam;
    providerText: string;
    registeredInputs: Record<string, unknown>;
    provider: Provider;
    up: (p: Provider, state: State | undefined, args: Record<string, unknown>) => ReturnType<Engine["up"]>;
    freshRole: (name: string, document?: PolicyDocument) => string;
    calls: () => { reads: number; writes: number };
}

/** For the suite it is called in: one local IAM and one loaded provider, handed to `use` before the first test. */
export function trustSubjectsForSuite(use: (suite: ProviderSuite) => void): void {
    let fake: FakeIam;
    let providerText: string;
    let registeredInputs: Record<string, unknown>;
    let provider: Provider;
    let restoreEnv: () => void;
    const up = (p: Provider, state: State | undefined, args: Record<string, unknown>) =>
        new Engine(p, providerText, { maxPolicyChars: 4096, allowWildcards: false }).up(state, args);

    before(async function () {
        // The tests' shared role (two clusters, CI, a restricted statement, EC2) is ~2000 characters
        // before we add anything: its account has the quota raised to 4096.
        fake = await FakeIam.start({ accountId: ACCOUNT, quota: 4096 });
        restoreEnv = useLocalIam(fake);
        // Construct the resource under mocks; the engine would receive the serialized provider.
        registeredInputs = await registeredTrustSubjects();
        providerText = registeredInputs.__provider as string;
        provider = await loadAsHost(providerText);
    });

    after(async () => {
        restoreEnv();
        await fake.close();
    });

    function freshRole(name: string, document: PolicyDocument = sharedRolePolicy()): string {
        const arn = fake.putRole(name, document);
        fake.resetCalls();
        return arn;
    }

    const calls = () => ({ reads: fake.count("GetRole"), writes: fake.count("UpdateAssumeRolePolicy") });

    before(() => use({ fake, providerText, registeredInputs, provider, up, freshRole, calls }));
}
