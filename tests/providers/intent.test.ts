// The write-ahead record of what a trust-policy write adds (providers/intent.ts): what it claims,
// what it never claims, and tags IAM accepts.
import { strict as assert } from "assert";
import { intentKeys, intentTags, pendingSubjects } from "../../providers/intent";
import { DEV, PROD, sa } from "../support/fixtures";

/** IAM's tag rules (id_tags): keys 1–128 and values ≤ 256 of letters, digits, white space and `_ . : / = + - @`. */
const IAM_TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

describe("write-ahead intent (role tags)", () => {
    const teams = Array.from({ length: 160 }, (_, i) => sa(`team-${i}`));

    it("GIVEN 160 subjects (a full role at quota 8192) THEN the record fits IAM's tag rules in 5 tags of one key prefix", () => {
        const tags = intentTags(DEV, teams);
        assert.equal(tags.length, 5);
        for (const t of tags) {
            assert.ok(t.Key.length <= 128 && IAM_TAG_CHARS.test(t.Key), t.Key);
            assert.ok(t.Value.length <= 256 && IAM_TAG_CHARS.test(t.Value), t.Value);
            assert.ok(!t.Key.toLowerCase().startsWith("aws:"));
        }
        assert.deepEqual(intentKeys(tags, [DEV]), tags.map((t) => t.Key));
        assert.deepEqual(intentKeys(tags, [PROD]), [], "another cluster's resource finds none of them");
    });

    it("GIVEN a record of some subjects THEN only those, and only under that provider, are pending", () => {
        const tags = [...intentTags(DEV, [sa("carol"), ...teams.slice(0, 40)]), { Key: "team", Value: "ml" }];
        const held = [sa("alice"), sa("carol"), ...teams.slice(0, 50)];
        assert.deepEqual(pendingSubjects(tags, [{ providerArn: DEV, subjects: held }]), [{ providerArn: DEV, subjects: [sa("carol"), ...teams.slice(0, 40)].sort() }]);
        assert.deepEqual(pendingSubjects(tags, [{ providerArn: PROD, subjects: held }]), [], "the same subjects of another cluster are not claimed");
        assert.deepEqual(pendingSubjects([], [{ providerArn: DEV, subjects: held }]), []);
    });
});
