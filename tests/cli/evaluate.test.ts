// Reading a stack as the Pulumi CLI would: the files' mistakes are reported with the file's name.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readStackFiles } from "../../cli/evaluate";

describe("readStackFiles", () => {
    it("GIVEN a stack file with a YAML syntax error WHEN read THEN the error names the file and where", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kf-yaml-"));
        try {
            fs.copyFileSync(path.join(__dirname, "..", "..", "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
            const stackFile = path.join(dir, "Pulumi.broken.yaml");
            fs.writeFileSync(stackFile, "config:\n  aws:region: us-west-2\n  kubeflow-irsa:profiles:\n    - name: team-a\n     owner: a@example.com\n");
            assert.throws(() => readStackFiles(dir, "broken"), (err: Error) => {
                assert.ok(err.message.startsWith(`${stackFile}: not valid YAML: `), err.message);
                assert.match(err.message, /line 5/);
                return true;
            });
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
