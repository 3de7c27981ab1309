// Pulumi.yaml and the stack files: what the Pulumi CLI checks before it runs anything.
import { strict as assert } from "assert";
import Ajv2020 from "ajv/dist/2020";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { readStackFiles } from "../cli/evaluate";
import { DEFAULTS, parseStackConfig, PROJECT } from "../components/config";

const root = path.resolve(__dirname, "..");
// Pulumi's project schema (pulumi/pulumi sdk/go/common/workspace/project.json, Apache-2.0), vendored
// in the repository so a fresh clone runs the test: see tests/support/pulumi-schema/README.md.
const schemaPath = path.join(__dirname, "support", "pulumi-schema", "pulumi-project.schema.json");

interface Declaration {
    type?: string;
    items?: { type: string };
    default?: unknown;
    value?: unknown;
    description?: string;
}

describe("Pulumi project files", () => {
    const project = parseYaml(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as { name: string; config: Record<string, Declaration> };

    it("GIVEN the vendored schema THEN it lies inside the repository and is Pulumi's project schema", () => {
        assert.ok(!path.relative(root, schemaPath).startsWith(".."), schemaPath);
        const schema = JSON.parse(fs.readFileSync(schemaPath, "utf8")) as { $id?: string; title?: string };
        assert.equal(schema.$id, "https://github.com/pulumi/pulumi/blob/master/sdk/go/common/workspace/project.json");
        assert.equal(schema.title, "Pulumi Project");
    });

    it("GIVEN Pulumi.yaml THEN it validates against Pulumi's project schema", () => {
        const ajv = new Ajv2020({ strict: false, allErrors: true });
        const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, "utf8")));
        assert.ok(validate(project), JSON.stringify(validate.errors, null, 2));
    });

    it("GIVEN the config block THEN it follows the CLI's own rules (no types or defaults for other namespaces; arrays have items; defaults match their type)", () => {
        assert.equal(project.name, PROJECT);
        for (const [key, declaration] of Object.entries(project.config)) {
            assert.ok(declaration.description, `${key} has a description`);
            if (key.includes(":") && !key.startsWith(`${PROJECT}:`)) {
                assert.equal(declaration.type, undefined, `${key}: another namespace may not declare a type`);
                assert.equal(declaration.default, undefined, `${key}: another namespace may not declare a default`);
                continue;
            }
            if (declaration.type === "array") assert.ok(declaration.items, `${key}: arrays need items`);
            const d = declaration.default;
            if (declaration.type === "integer") assert.ok(Number.isInteger(d), `${key}: integer default`);
            if (declaration.type === "boolean") assert.equal(typeof d, "boolean", `${key}: boolean default`);
            if (declaration.type === "string" && d !== undefined) assert.equal(typeof d, "string", `${key}: string default`);
        }
    });

    it("GIVEN the declared defaults THEN they are the defaults the program applies when the CLI is absent", () => {
        const declared = (key: string) => project.config[key]?.default;
        const expected: Record<string, unknown> = {
            enablePodIamPolicy: DEFAULTS.enablePodIamPolicy,
            enableFsx: DEFAULTS.enableFsx,
            albController: DEFAULTS.albController,
            adminRoleMode: DEFAULTS.adminRoleMode,
            // Computed from albController, enableFsx and adminRoleMode: "" is "not set".
            adminServiceAccounts: "",
            userPolicyArns: DEFAULTS.userPolicyArns,
            profiles: DEFAULTS.profiles,
            trustPolicyMaxChars: DEFAULTS.trustPolicyMaxChars,
            profileApiVersion: DEFAULTS.profileApiVersion,
            userRoleShards: DEFAULTS.userRoleShards,
            identityMode: DEFAULTS.identityMode,
            instanceType: DEFAULTS.instanceType,
            desiredCapacity: DEFAULTS.desiredCapacity,
            minSize: DEFAULTS.minSize,
            maxSize: DEFAULTS.maxSize,
            // Required, but declared untyped with "" so that the program, not the CLI, says why.
            kubeflowInstalled: "",
            deleteRemovedProfiles: DEFAULTS.deleteRemovedProfiles,
            // A boolean or a list: "" is "not set" (nothing is finished).
            finishMoves: "",
            profileBucket: "",
        };
        for (const [key, value] of Object.entries(expected)) assert.deepEqual(declared(key), value, `default of ${key}`);
        // Required keys have no default, so the CLI refuses to run without them.
        assert.equal(declared("clusterName"), undefined);
        // Optional keys need a default, or the CLI would require them; the program reads it as "not set".
        for (const unset of ["", "map[]", "{}"]) {
            const config = parseStackConfig((key) => ({ "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf", "kubeflow-irsa:kubeflowInstalled": "false", "kubeflow-irsa:existingCluster": unset, "kubeflow-irsa:kubeconfig": "" })[key]);
            assert.equal(config.existingCluster, undefined, `existingCluster ${JSON.stringify(unset)}`);
        }
        // Older CLIs passed a map default as Go's "map[]", newer ones as JSON: no default is a map.
        for (const [key, declaration] of Object.entries(project.config)) {
            const d = declaration.default;
            assert.ok(typeof d !== "object" || d === null || (Array.isArray(d) && (declaration.type === "array" || d.length === 0)), `${key}: default ${JSON.stringify(d)}`);
        }
    });

    it("GIVEN the AGPL-licensed IAM simulator (a test-only devDependency) THEN no shipped file imports it", () => {
        const walk = (entry: string): string[] => {
            const full = path.join(root, entry);
            if (fs.statSync(full).isDirectory()) return fs.readdirSync(full).filter((f) => f !== "node_modules").flatMap((f) => walk(path.join(entry, f)));
            return entry.endsWith(".ts") ? [entry] : [];
        };
        const shipped = ["index.ts", "components", "domain", "analysis", "providers", "cli", "bench", "policy"].flatMap(walk);
        assert.ok(shipped.length > 20, `${shipped.length} files`);
        for (const file of shipped) assert.ok(!fs.readFileSync(path.join(root, file), "utf8").includes("@cloud-copilot"), file);
    });

    for (const stack of ["dev", "prod"]) {
        it(`GIVEN Pulumi.${stack}.yaml THEN it sets aws:region and a valid configuration`, () => {
            const values = readStackFiles(root, stack);
            assert.ok(values["aws:region"], "aws:region is set per stack");
            const config = parseStackConfig((key) => values[key]);
            assert.ok(config.profiles.length > 0);
        });
    }
});
