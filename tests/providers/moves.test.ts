// Which moved subjects a delete may not remove (providers/moves.ts), on the states a real stack
// reaches: lagging refreshes, destroys with the config unchanged, roles the stack creates.
import { strict as assert } from "assert";
import { unfinishedMovesOnDelete, type MoveSettings } from "../../providers/moves";
import { ACCOUNT, DEV } from "../support/fixtures";

const sub = (ns: string) => `system:serviceaccount:${ns}:default-editor`;
const R1 = `arn:aws:iam::${ACCOUNT}:role/team-r1`;
const R2 = `arn:aws:iam::${ACCOUNT}:role/team-r2`;
const settings = (placement: Record<string, string>, finish: MoveSettings["finish"] = false): MoveSettings => ({
    granted: new Map(Object.entries(placement).map(([ns, role]) => [sub(ns), role])),
    finish,
});
const state = (extra: Partial<Parameters<typeof unfinishedMovesOnDelete>[0]> = {}) => ({ role: R1, roleArn: R1, providerArn: DEV, subjects: [], anchors: [], ...extra });

describe("unfinishedMovesOnDelete: a delete never cuts a moved profile's running pods off", () => {
    it("GIVEN every profile of an external role moved to another THEN the delete keeps them all, also one a lagging refresh held as a leftover", () => {
        const s = state({ subjects: [sub("bob")], leftovers: [{ providerArn: DEV, subjects: [sub("alice")] }] });
        assert.deepEqual(unfinishedMovesOnDelete(s, settings({ alice: R2, bob: R2 })), [sub("alice"), sub("bob")]);
    });

    it("GIVEN a profile removed from the config THEN its subject is not kept: only moves are", () => {
        assert.deepEqual(unfinishedMovesOnDelete(state({ subjects: [sub("bob"), sub("carol")] }), settings({ bob: "" })), [sub("bob")]);
    });

    it("GIVEN the config still places a profile on the role (a destroy) THEN nothing is kept, draining subjects included", () => {
        assert.deepEqual(unfinishedMovesOnDelete(state({ subjects: [sub("bob")], draining: [sub("alice")] }), settings({ alice: "", bob: R1 })), []);
        // a refresh that did not see bob holds him as a leftover: still a destroy
        assert.deepEqual(unfinishedMovesOnDelete(state({ draining: [sub("alice")], leftovers: [{ providerArn: DEV, subjects: [sub("bob")] }] }), settings({ alice: "", bob: R1 })), []);
    });

    it("GIVEN finishMoves (true, or a list) THEN the moves it names are not kept", () => {
        const s = state({ subjects: [sub("alice"), sub("bob")] });
        assert.deepEqual(unfinishedMovesOnDelete(s, settings({ alice: R2, bob: R2 }, true)), []);
        assert.deepEqual(unfinishedMovesOnDelete(s, settings({ alice: R2, bob: R2 }, new Set(["alice"]))), [sub("bob")]);
    });

    it("GIVEN a role the stack creates (anchors, or owned statements) or no stack config THEN nothing is kept", () => {
        assert.deepEqual(unfinishedMovesOnDelete(state({ subjects: [sub("bob")], anchors: ["system:serviceaccount:kubeflow-irsa.invalid:kf-user"] }), settings({ bob: R2 })), []);
        assert.deepEqual(unfinishedMovesOnDelete(state({ subjects: [sub("bob")], statements: [{ Effect: "Allow" }] }), settings({ bob: R2 })), []);
        assert.deepEqual(unfinishedMovesOnDelete(state({ subjects: [sub("bob")] }), { finish: false }), []);
    });
});
