// An upgrade deletes nothing: each fixture beside this file is the state an earlier version's
// `up` left for one of its shipped stacks (see record.ts). The engine deletes every resource of
// that state which today's program no longer registers (same URN), unless the *old* state holds
// retainOnDelete or protect for it. So each one must still be registered, or have been retained.

import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { readProjectDefaults, runProgram, type ConfigValues } from "../../cli/evaluate";
import { KUBEFLOW_INSTALLED_UNSET } from "../../components/config";
import { FIXTURES, type RecordedState } from "./record";

const root = path.resolve(__dirname, "..", "..");
const PROFILE = /^kubernetes:kubeflow\.org\/v1(beta1)?:Profile$/;
const INSTALLED = "kubeflow-irsa:kubeflowInstalled";

/**
 * Removals an upgrade makes on purpose, each with the README note that tells the user (Upgrading).
 * Keep it short: an entry here is a resource some user's `up` deletes.
 */
const INTENDED_REMOVALS: { version: string; urnEnd: string; why: string }[] = [
    {
        version: "0ef7b38",
        urnEnd: "aws:iam/role:Role$aws:iam/rolePolicy:RolePolicy::kf-admin-REGION-CLUSTER-alb-ingress",
        why: "albController v2 (the default since the Load Balancer Controller work) replaces kfctl's alb-ingress policy; albController: v1 keeps it",
    },
    {
        version: "0ef7b38",
        urnEnd: "aws:eks/podIdentityAssociation:PodIdentityAssociation::pod-identity-kubeflow/alb-ingress-controller",
        why: "with albController v2 the default adminServiceAccounts bind the Load Balancer Controller's account instead; albController: v1 keeps it",
    },
    {
        version: "0ef7b38",
        urnEnd: "aws:eks/podIdentityAssociation:PodIdentityAssociation::pod-identity-kubeflow/profiles-controller-service-account",
        why: "the profile controller makes no AWS call under annotateOnly, so the default adminServiceAccounts no longer bind it; list it in adminServiceAccounts to keep it",
    },
    ...["0ef7b38", "8c36ea4"].map((version) => ({
        version,
        urnEnd: "aws:eks/podIdentityAssociation:PodIdentityAssociation::pod-identity-kubeflow/kf-admin",
        why: "kfctl's kubeflow:kf-admin was only an IRSA anchor; associated, it gave any pod running as it kf-admin's control-plane rights (issue 19); list it in adminServiceAccounts to keep it",
    })),
];

function intended(state: RecordedState, urn: string): boolean {
    const region = state.stackValues["aws:region"];
    const cluster = state.stackValues["kubeflow-irsa:clusterName"];
    return INTENDED_REMOVALS.some((r) => r.version === state.version && urn.endsWith(r.urnEnd.replace("REGION", region).replace("CLUSTER", cluster)));
}

const fixtures: RecordedState[] = fs
    .readdirSync(FIXTURES)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(FIXTURES, f), "utf8")) as RecordedState);

describe("Upgrades (the state of earlier versions' shipped stacks, tests/upgrade/fixtures)", () => {
    it("GIVEN the fixtures THEN they cover 0ef7b38 (before kubeflowInstalled) and 8c36ea4, each shipped stack, with Profiles and Pod Identity associations in state", () => {
        const versions = new Set(fixtures.map((f) => f.version));
        assert.ok(versions.has("0ef7b38") && versions.has("8c36ea4"), [...versions].join(", "));
        for (const version of versions) {
            const stacks = new Set(fixtures.filter((f) => f.version === version).map((f) => f.stack));
            assert.deepEqual([...stacks].sort(), ["dev", "prod"], version);
        }
        assert.ok(fixtures.some((f) => f.version === "0ef7b38" && f.resources.some((r) => PROFILE.test(r.type) && !r.retainOnDelete)), "0ef7b38 registered Profiles without retainOnDelete");
        assert.ok(fixtures.some((f) => f.resources.some((r) => r.type === "aws:eks/podIdentityAssociation:PodIdentityAssociation")));
    });

    it("GIVEN 0ef7b38's dev stack WHEN the user answered kubeflowInstalled false THEN the check finds the Profiles the engine would delete (it can fail)", async () => {
        const state = fixtures.find((f) => f.version === "0ef7b38" && f.stack === "dev" && !f.variant)!;
        const run = await runProgram({ ...readProjectDefaults(root), ...state.stackValues, [INSTALLED]: "false" }, state.stack);
        const now = new Set(run.resources.map((r) => r.urn));
        const deleted = state.resources.filter((r) => !now.has(r.urn) && !r.retainOnDelete && !intended(state, r.urn));
        assert.deepEqual(deleted.map((r) => r.urn.split("::").pop()), ["profile-data-eng", "profile-team-nlp", "profile-team-vision"]);
    });

    for (const state of fixtures) {
        const label = `${state.version} ${state.stack}${state.variant ? ` (${state.variant})` : ""}`;
        const hadProfiles = state.resources.some((r) => PROFILE.test(r.type));
        // Today's Pulumi.yaml comes with the upgrade; the stack file is the user's own.
        const upgraded: ConfigValues = { ...readProjectDefaults(root), ...state.stackValues };

        describe(`GIVEN a stack deployed by ${label}, upgraded to today's program`, () => {
            if (state.stackValues[INSTALLED] === undefined) {
                it("WHEN its stack file does not say whether Kubeflow runs THEN the program stops before registering anything, saying what to set", async () => {
                    await assert.rejects(runProgram(upgraded, state.stack), (err: Error & { registered?: string[] }) => {
                        assert.ok(err.message.includes(`${INSTALLED}: ${KUBEFLOW_INSTALLED_UNSET}`), err.message);
                        assert.deepEqual(err.registered, []);
                        return true;
                    });
                });
            }

            // The answer the message asks for: true where Kubeflow ran (the old up applied Profiles).
            const answered = state.stackValues[INSTALLED] === undefined ? { ...upgraded, [INSTALLED]: String(hadProfiles) } : upgraded;
            it(`WHEN ${INSTALLED} is ${answered[INSTALLED]} THEN the first up deletes nothing of the old state: every resource is registered again under its URN, or was retained`, async () => {
                const run = await runProgram(answered, state.stack);
                const now = new Map(run.resources.map((r) => [r.urn, r]));
                const deleted = state.resources.filter((r) => !now.has(r.urn) && !r.retainOnDelete && !r.protect && !intended(state, r.urn));
                assert.deepEqual(
                    deleted.map((r) => r.urn),
                    [],
                    "the engine would delete these (register them again, keep their URN, or set retainOnDelete in the version that stops registering them)",
                );
                // Profiles own namespaces: from now on they are retained when they leave the stack.
                for (const r of run.resources.filter((r) => PROFILE.test(r.type))) assert.equal(r.options.retainOnDelete, true, r.urn);
            });
        });
    }
});
