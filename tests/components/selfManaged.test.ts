// A self-managed cluster (kops, kubeadm) under mocks: the issuer the stack hosts, its documents
// checked field by field against a key pair made here (jose signs and verifies a token with them),
// the IAM OIDC provider every TrustSubjects uses, the webhook's objects and their order, and the
// bad input that fails before anything is registered.
import { strict as assert } from "assert";
import { createHash, generateKeyPairSync, type KeyObject } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { createLocalJWKSet, exportJWK, jwtVerify, SignJWT, type JSONWebKeySet } from "jose";
import { runProgram, TRUST_SUBJECTS_TYPE, type ConfigValues, type ProgramRun } from "../../cli/evaluate";
import { cliValues, ofType, named } from "../support/program";
import { main as doctorMain } from "../../cli/doctor";
import { DEFAULT_WEBHOOK_IMAGE } from "../../components/issuerDocuments";

const pair = () => generateKeyPairSync("rsa", { modulusLength: 2048 });
const pemOf = (key: KeyObject) => key.export({ type: "spki", format: "pem" }).toString();
const current = pair();
const next = pair();

function config(selfManaged: unknown, extra: Record<string, unknown> = {}): ConfigValues {
    const values: Record<string, unknown> = {
        "aws:region": "eu-west-1",
        "kubeflow-irsa:clusterName": "kops-ml",
        "kubeflow-irsa:kubeflowInstalled": "false",
        "kubeflow-irsa:existingCluster": { selfManaged },
        "kubeflow-irsa:kubeconfig": "apiVersion: v1\nkind: Config\n",
        "kubeflow-irsa:profiles": [{ name: "team-a", owner: "alice@example.com" }],
        ...extra,
    };
    return cliValues(values);
}
const document = (run: ProgramRun, key: string) => JSON.parse(String(ofType(run, "aws:s3/bucketObjectv2:BucketObjectv2").find((o) => o.inputs.key === key)!.inputs.content));

describe("self-managed cluster: hosted issuer, its OIDC provider, the pod identity webhook", function () {
    this.timeout(60_000);
    let run: ProgramRun;
    let bucket: string;
    let issuer: string;
    before(async () => {
        run = await runProgram(config({ serviceAccountKeys: [pemOf(current.publicKey), pemOf(next.publicKey)] }));
        bucket = String(ofType(run, "aws:s3/bucket:Bucket")[0].inputs.bucket);
        issuer = `https://${bucket}.s3.eu-west-1.amazonaws.com`;
    });

    it("THEN the issuer is the bucket's HTTPS URL, exported without https://, and its provider is what every TrustSubjects trusts", () => {
        assert.match(bucket, /^kops-ml-oidc-[0-9a-f]{8}$/);
        assert.equal(run.outputs.oidcIssuer, issuer.replace("https://", ""));
        const [provider] = ofType(run, "aws:iam/openIdConnectProvider:OpenIdConnectProvider");
        assert.equal(provider.inputs.url, issuer);
        assert.deepEqual(provider.inputs.clientIdLists, ["sts.amazonaws.com"]);
        const trusts = ofType(run, TRUST_SUBJECTS_TYPE);
        assert.ok(trusts.length >= 2);
        for (const t of trusts) assert.equal(t.inputs.providerArn, run.outputs.oidcProviderArn);
        assert.equal(run.outputs.oidcProviderArn, `arn:aws:iam::123456789012:oidc-provider/${issuer.replace("https://", "")}`);
    });

    it("THEN the bucket is encrypted, owner-enforced, ACLs blocked, and public read covers exactly the two documents", () => {
        const [sse] = ofType(run, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration");
        assert.equal((sse.inputs.rules as { applyServerSideEncryptionByDefault: { sseAlgorithm: string } }[])[0].applyServerSideEncryptionByDefault.sseAlgorithm, "AES256");
        const [block] = ofType(run, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock");
        assert.deepEqual([block.inputs.blockPublicAcls, block.inputs.ignorePublicAcls], [true, true]);
        assert.equal((ofType(run, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")[0].inputs.rule as { objectOwnership: string }).objectOwnership, "BucketOwnerEnforced");
        const policy = JSON.parse(String(ofType(run, "aws:s3/bucketPolicy:BucketPolicy")[0].inputs.policy));
        // The only Allow; the other statement is a Deny of writes (tests/components/issuerBucket.test.ts).
        assert.deepEqual(policy.Statement.filter((st: { Effect: string }) => st.Effect === "Allow"), [
            {
                Sid: "PublicIssuerDocuments",
                Effect: "Allow",
                Principal: "*",
                Action: "s3:GetObject",
                Resource: [`arn:aws:s3:::${bucket}/.well-known/openid-configuration`, `arn:aws:s3:::${bucket}/keys.json`],
            },
        ]);
    });

    it("THEN the discovery document names the issuer, its JWKS and RS256", () => {
        const discovery = document(run, ".well-known/openid-configuration");
        assert.equal(discovery.issuer, issuer);
        assert.equal(discovery.jwks_uri, `${issuer}/keys.json`);
        assert.deepEqual(discovery.id_token_signing_alg_values_supported, ["RS256"]);
        assert.deepEqual(discovery.response_types_supported, ["id_token"]);
        assert.deepEqual(discovery.subject_types_supported, ["public"]);
    });

    it("THEN the JWKS has one RSA key per PEM, n and e equal to the key's (jose's export), kid Kubernetes' SHA-256 of its DER", async () => {
        const jwks = document(run, "keys.json") as { keys: Record<string, string>[] };
        assert.equal(jwks.keys.length, 2);
        for (const [index, key] of [current.publicKey, next.publicKey].entries()) {
            const expected = await exportJWK(key);
            const kid = createHash("sha256").update(key.export({ type: "spki", format: "der" })).digest("base64url");
            assert.deepEqual(jwks.keys[index], { kty: "RSA", alg: "RS256", use: "sig", kid, n: expected.n, e: expected.e });
        }
    });

    it("THEN a token the API server would sign with the private key verifies against the JWKS (jose), and one signed with another key does not", async () => {
        const jwks = createLocalJWKSet(document(run, "keys.json") as JSONWebKeySet);
        const kid = (document(run, "keys.json") as { keys: { kid: string }[] }).keys[0].kid;
        const sign = (key: KeyObject) =>
            new SignJWT({}).setProtectedHeader({ alg: "RS256", kid }).setIssuer(issuer).setSubject("system:serviceaccount:team-a:default-editor").setAudience("sts.amazonaws.com").setIssuedAt().setExpirationTime("1h").sign(key);
        const { payload } = await jwtVerify(await sign(current.privateKey), jwks, { issuer, audience: "sts.amazonaws.com" });
        assert.equal(payload.sub, "system:serviceaccount:team-a:default-editor");
        await assert.rejects(jwtVerify(await sign(pair().privateKey), jwks, { issuer }), /signature verification failed/);
    });

    it("THEN the doctor verifies such a token offline with --token --jwks", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jwks-"));
        try {
            const jwksDoc = document(run, "keys.json") as { keys: { kid: string }[] };
            fs.writeFileSync(path.join(dir, "keys.json"), JSON.stringify(jwksDoc));
            // synth's layout: the discovery document beside keys.json names the issuer to expect.
            fs.mkdirSync(path.join(dir, ".well-known"));
            fs.writeFileSync(path.join(dir, ".well-known", "openid-configuration"), JSON.stringify(document(run, ".well-known/openid-configuration")));
            const token = await new SignJWT({}).setProtectedHeader({ alg: "RS256", kid: jwksDoc.keys[1].kid }).setIssuer(issuer).setSubject("system:serviceaccount:team-a:default-editor").setAudience("sts.amazonaws.com").setExpirationTime("1h").sign(next.privateKey);
            fs.writeFileSync(path.join(dir, "token"), token);
            const forged = await new SignJWT({}).setProtectedHeader({ alg: "RS256", kid: jwksDoc.keys[1].kid }).setIssuer(issuer).setSubject("system:serviceaccount:team-a:default-editor").setAudience("sts.amazonaws.com").setExpirationTime("1h").sign(pair().privateKey);
            fs.writeFileSync(path.join(dir, "forged"), forged);
            const run2 = async (...argv: string[]) => {
                let out = "";
                let err = "";
                const code = await doctorMain(argv, { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) } });
                return { code, out, err };
            };
            const ok = await run2("--token", path.join(dir, "token"), "--jwks", path.join(dir, "keys.json"));
            assert.equal(ok.code, 0, ok.err + ok.out);
            assert.match(ok.out, new RegExp(`^VERIFIED: signed by key ${jwksDoc.keys[1].kid}`, "m"));
            const bad = await run2("--token", path.join(dir, "forged"), "--jwks", path.join(dir, "keys.json"));
            assert.equal(bad.code, 1);
            assert.match(bad.out, /^Problem: the token's signature does not verify against .*keys\.json.*InvalidIdentityToken/m);
            // Signed right, but by an API server still on its old issuer: STS would not find the provider.
            const oldIssuer = await new SignJWT({}).setProtectedHeader({ alg: "RS256", kid: jwksDoc.keys[0].kid }).setIssuer("https://kubernetes.default.svc.cluster.local").setSubject("system:serviceaccount:team-a:default-editor").setAudience("https://kubernetes.default.svc.cluster.local").setExpirationTime("1h").sign(current.privateKey);
            fs.writeFileSync(path.join(dir, "old"), oldIssuer);
            const stale = await run2("--token", path.join(dir, "old"), "--jwks", path.join(dir, "keys.json"));
            assert.equal(stale.code, 1);
            assert.match(stale.out, /^SIGNATURE VERIFIED, but STS would reject it/m);
            assert.match(stale.out, /^Problem: the token's issuer is "https:\/\/kubernetes\.default\.svc\.cluster\.local", not the hosted issuer/m);
            assert.match(stale.out, /^Problem: the token's audience is .* not sts\.amazonaws\.com/m);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("THEN the webhook runs through the cluster's provider: namespace, RBAC, TLS secret, Deployment, Service, then the MutatingWebhookConfiguration with the CA, failing open", () => {
        const k8s = named(run, "cluster-k8s");
        const webhook = run.resources.filter((r) => r.name.startsWith("cluster-webhook-") && r.type.startsWith("kubernetes:"));
        assert.deepEqual(webhook.map((r) => r.type.split(":").pop()).sort(), ["ClusterRole", "ClusterRoleBinding", "Deployment", "MutatingWebhookConfiguration", "Namespace", "PodDisruptionBudget", "Secret", "Service", "ServiceAccount"]);
        for (const r of webhook) assert.equal(r.options.provider, `${k8s.urn}::${k8s.name}-id`, `${r.name} goes to the self-managed cluster`);
        const deployment = named(run, "cluster-webhook-deployment");
        const container = (deployment.inputs.spec as { template: { spec: { containers: { image: string; command: string[] }[] } } }).template.spec.containers[0];
        assert.equal(container.image, DEFAULT_WEBHOOK_IMAGE);
        assert.ok(container.command.includes("--token-audience=sts.amazonaws.com") && container.command.includes("--annotation-prefix=eks.amazonaws.com"));
        const secret = named(run, "cluster-webhook-tls");
        assert.equal(secret.inputs.type, "kubernetes.io/tls");
        // What must agree for the API server to reach it: port, Service, certificate names, mounted secret.
        const pod = (deployment.inputs.spec as { template: { spec: { containers: { command: string[]; ports: { containerPort: number }[]; readinessProbe: { httpGet: { port: number } } }[]; volumes: { secret: { secretName: string } }[] } } }).template.spec;
        const port = Number(pod.containers[0].command.find((c) => c.startsWith("--port="))!.split("=")[1]);
        assert.equal(pod.containers[0].ports[0].containerPort, port);
        assert.equal(pod.containers[0].readinessProbe.httpGet.port, port);
        assert.equal(((named(run, "cluster-webhook-service").inputs.spec as { ports: { targetPort: number; port: number }[] }).ports[0]).targetPort, port);
        assert.equal(pod.volumes[0].secret.secretName, (secret.inputs.metadata as { name: string }).name);
        assert.ok(pod.containers[0].command.includes("--aws-default-region=eu-west-1") && pod.containers[0].command.includes("--sts-regional-endpoint=true"));
        const sans = named(run, "cluster-webhook-csr").inputs.dnsNames as string[];
        const svc = named(run, "cluster-webhook-service").inputs.metadata as { name: string; namespace: string };
        assert.ok(sans.includes(`${svc.name}.${svc.namespace}.svc`), `the serving certificate names the Service the API server calls: ${sans}`);
        const mwc = named(run, "cluster-webhook-configuration");
        const [hook] = mwc.inputs.webhooks as { failurePolicy: string; clientConfig: { caBundle: string; service: { path: string } }; rules: { resources: string[]; operations: string[] }[] }[];
        assert.equal(hook.failurePolicy, "Ignore");
        assert.deepEqual((hook as unknown as { admissionReviewVersions: string[] }).admissionReviewVersions, ["v1beta1"], "v0.6.17 answers v1beta1 reviews only");
        assert.equal(hook.clientConfig.service.path, "/mutate");
        assert.deepEqual(hook.rules, [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] }]);
        const caPem = String(named(run, "cluster-webhook-ca").state.certPem);
        assert.equal(Buffer.from(hook.clientConfig.caBundle, "base64").toString(), caPem, "caBundle is the CA that signed the serving certificate");
        for (const dep of ["cluster-webhook-deployment", "cluster-webhook-service"]) assert.ok(mwc.options.dependencies.includes(named(run, dep).urn), `the configuration waits for ${dep}`);
        const provider = ofType(run, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")[0];
        for (const dep of ["cluster-issuer-policy", "cluster-issuer-discovery", "cluster-issuer-jwks"]) assert.ok(provider.options.dependencies.includes(named(run, dep).urn), `IAM reads the issuer after ${dep}`);
    });

    it("GIVEN a PEM indented as a YAML block scalar leaves it THEN it is read as the same key", async () => {
        const indented = pemOf(current.publicKey).split("\n").map((l) => `    ${l}`).join("\n");
        const again = await runProgram(config({ serviceAccountKeys: [indented] }));
        assert.deepEqual(document(again, "keys.json").keys[0], (document(run, "keys.json") as { keys: unknown[] }).keys[0]);
    });

    it("GIVEN webhookImage THEN that image runs", async () => {
        const custom = await runProgram(config({ serviceAccountKeys: [pemOf(current.publicKey)], webhookImage: "registry.example.com/eks/pod-identity-webhook:v0.6.17" }));
        const spec = named(custom, "cluster-webhook-deployment").inputs.spec as { template: { spec: { containers: { image: string }[] } } };
        assert.equal(spec.template.spec.containers[0].image, "registry.example.com/eks/pod-identity-webhook:v0.6.17");
    });

    describe("GIVEN bad input THEN it fails before registering anything, naming the key", () => {
        const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey;
        const cases: [string, unknown, Record<string, unknown>, RegExp][] = [
            ["an EC key", { serviceAccountKeys: [pemOf(current.publicKey), pemOf(ec)] }, {}, /existingCluster\.selfManaged\.serviceAccountKeys\[1\]: is a ec key; .* give an RSA public key/],
            ["text that is not a PEM", { serviceAccountKeys: ["ssh-rsa AAAAB3Nza"] }, {}, /existingCluster\.selfManaged\.serviceAccountKeys\[0\]: holds no PEM block; give exactly one "-----BEGIN PUBLIC KEY-----" block/],
            ["an empty key list", { serviceAccountKeys: [] }, {}, /existingCluster\.selfManaged\.serviceAccountKeys: is empty/],
            ["an unpinned image", { serviceAccountKeys: [pemOf(current.publicKey)], webhookImage: "pod-identity-webhook" }, {}, /existingCluster\.selfManaged\.webhookImage: "pod-identity-webhook" is not a pinned image reference/],
            ["podIdentity mode", { serviceAccountKeys: [pemOf(current.publicKey)] }, { "kubeflow-irsa:identityMode": "podIdentity" }, /existingCluster\.selfManaged: is a self-managed cluster, and EKS Pod Identity exists only on EKS/],
            [
                "a private key given by mistake",
                { serviceAccountKeys: [current.privateKey.export({ type: "pkcs8", format: "pem" }).toString()] },
                {},
                /serviceAccountKeys\[0\]: is a PRIVATE key: give only its public half \(openssl rsa -in sa-signer\.key -pubout\)/,
            ],
            ["two keys in one entry", { serviceAccountKeys: [pemOf(current.publicKey) + pemOf(next.publicKey)] }, {}, /serviceAccountKeys\[0\]: holds 2 PEM blocks/],
            ["the same key twice", { serviceAccountKeys: [pemOf(current.publicKey), pemOf(current.publicKey)] }, {}, /serviceAccountKeys\[1\]: is the same key as serviceAccountKeys\[0\]/],
            ["no kubeconfig", { serviceAccountKeys: [pemOf(current.publicKey)] }, { "kubeflow-irsa:kubeconfig": "" }, /kubeflow-irsa:kubeconfig: is required with existingCluster\.selfManaged/],
        ];
        for (const [what, selfManaged, extra, message] of cases) {
            it(`WHEN ${what}`, async () => {
                await assert.rejects(runProgram(config(selfManaged, extra)), (err: Error & { registered?: string[] }) => {
                    assert.match(err.message, message);
                    assert.deepEqual(err.registered, []);
                    return true;
                });
            });
        }

        it("WHEN oidcIssuerUrl is not the derived URL, or oidcProviderArn is given THEN each is named", async () => {
            const values = config({ serviceAccountKeys: [pemOf(current.publicKey)] });
            const withUrl = JSON.stringify({ oidcIssuerUrl: "https://issuer.example.com", oidcProviderArn: "arn:aws:iam::123456789012:oidc-provider/issuer.example.com", selfManaged: { serviceAccountKeys: [pemOf(current.publicKey)] } });
            await assert.rejects(runProgram({ ...values, "kubeflow-irsa:existingCluster": withUrl }), (err: Error) => {
                assert.match(err.message, /existingCluster\.oidcIssuerUrl: "https:\/\/issuer\.example\.com" is not the issuer this stack hosts for a self-managed cluster, "https:\/\/kops-ml-oidc-[0-9a-f]{8}\.s3\.eu-west-1\.amazonaws\.com"/);
                assert.match(err.message, /existingCluster\.oidcProviderArn: cannot be given with selfManaged/);
                return true;
            });
            // The derived URL itself is accepted.
            const same = await runProgram({ ...values, "kubeflow-irsa:existingCluster": JSON.stringify({ oidcIssuerUrl: `https://${bucket}.s3.eu-west-1.amazonaws.com`, selfManaged: { serviceAccountKeys: [pemOf(current.publicKey)] } }) });
            assert.equal(same.outputs.oidcIssuer, `${bucket}.s3.eu-west-1.amazonaws.com`);
        });
    });
});
