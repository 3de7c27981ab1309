// The Kubernetes side of `npm run synth` (cli/synth.ts): the objects the program registers, as
// `up` applies them — whole objects (Profile CRs) and server-side-apply patches of objects the
// stack does not own (ServiceAccount annotations) — what the second `up` of the two-phase install
// adds, and their YAML.

import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { stringify as toYaml } from "yaml";
import type { RecordedResource } from "./evaluate";

/**
 * A Kubernetes object as `up` applies it. `patch`: a server-side-apply patch (the provider's
 * `…Patch` resources, e.g. kubernetes:core/v1:ServiceAccountPatch) — the stack sets only the
 * fields `object` lists on an object it does not own.
 */
export interface KubernetesObject {
    /** The Pulumi resource type it was registered as. */
    type: string;
    patch: boolean;
    object: Record<string, unknown>;
}

const str = (value: unknown): string => (typeof value === "string" ? value : "");
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** What synth writes for a value Pulumi holds as a secret (a key generated at `up`, …): never the value. */
export const SECRET_PLACEHOLDER = "<secret: set by pulumi up, not shown by synth>";

const isSecret = (value: unknown): value is { value: unknown } =>
    typeof value === "object" && value !== null && (value as Record<string, unknown>)[specialSigKey] === specialSecretSig;

/**
 * A value with Pulumi's secrets replaced: every string under a secret becomes SECRET_PLACEHOLDER,
 * keeping the shape (a Secret's `stringData` keeps its keys), so the object stays valid and shows
 * nothing that could pass for a real key or certificate.
 */
function withoutSecrets(value: unknown, secret = false): unknown {
    if (isSecret(value)) return withoutSecrets(value.value, true);
    if (Array.isArray(value)) return value.map((v) => withoutSecrets(v, secret));
    if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutSecrets(v, secret)]));
    return secret && typeof value === "string" ? SECRET_PLACEHOLDER : value;
}

/** Inputs as the object applied: the SDK's internal keys (`__provider`, …) dropped, secrets as placeholders. */
function applied(inputs: Record<string, unknown>): Record<string, unknown> {
    const { apiVersion, kind, metadata, spec, ...rest } = inputs;
    const object: Record<string, unknown> = { apiVersion, kind, metadata };
    if (spec !== undefined) object.spec = spec;
    for (const [key, value] of Object.entries(rest)) if (!key.startsWith("__")) object[key] = value;
    return withoutSecrets(object) as Record<string, unknown>;
}

export function metadataOf({ object }: KubernetesObject): { namespace: string; name: string } {
    const metadata = (object.metadata ?? {}) as Record<string, unknown>;
    return { namespace: str(metadata.namespace), name: str(metadata.name) };
}

/** The Pulumi kubernetes provider's patch resources (`kubernetes:<group>/<version>:<Kind>Patch`). */
const isPatchType = (type: string) => /^kubernetes:[^:]+:\w+Patch$/.test(type);

/** The Kubernetes objects among the registered resources, by kind, namespace and name. */
export function kubernetesObjects(resources: RecordedResource[]): KubernetesObject[] {
    return resources
        .filter((r) => r.type.startsWith("kubernetes:") && r.inputs.kind !== undefined)
        .map((r): KubernetesObject => ({ type: r.type, patch: isPatchType(r.type), object: applied(r.inputs) }))
        .sort((a, b) => {
            const ma = metadataOf(a);
            const mb = metadataOf(b);
            return byName(str(a.object.kind), str(b.object.kind)) || byName(ma.namespace, mb.namespace) || byName(ma.name, mb.name);
        });
}

/** `<namespace>/<name>`, or the name of a cluster-scoped object. */
export const qualifiedName = (o: KubernetesObject) => {
    const { namespace, name } = metadataOf(o);
    return namespace ? `${namespace}/${name}` : name;
};

/** One object's identity across two evaluations: type, kind, namespace and name. */
const identityOf = (o: KubernetesObject) => JSON.stringify([o.type, str(o.object.apiVersion), str(o.object.kind), qualifiedName(o)]);

/** The objects of `second` that `first` does not have: what the `up` of `second`'s config adds. */
export function addedObjects(first: KubernetesObject[], second: KubernetesObject[]): KubernetesObject[] {
    const present = new Set(first.map(identityOf));
    return second.filter((o) => !present.has(identityOf(o)));
}

/** What the objects are, by kind: "3 Profile, 1 ServiceAccount patch"; "no objects" for none. */
export function objectCounts(objects: KubernetesObject[]): string {
    const kinds = new Map<string, number>();
    for (const o of objects) {
        const key = JSON.stringify([str(o.object.kind), o.patch]);
        kinds.set(key, (kinds.get(key) ?? 0) + 1);
    }
    const counts = [...kinds].map(([key, n]) => {
        const [kind, patch] = JSON.parse(key) as [string, boolean];
        return patch ? `${n} ${kind} ${n === 1 ? "patch" : "patches"}` : `${n} ${kind}`;
    });
    return counts.join(", ") || "no objects";
}

export interface YamlDocument {
    /** Comment lines above the document. */
    comment?: string[];
    body: unknown;
}

/** Multi-document YAML: the header's comment lines, then each document, headed by its own comment lines if any. */
export function yamlDocuments(header: string[], documents: YamlDocument[]): string {
    const comments = (lines: string[] = []) => lines.map((line) => `# ${line}\n`).join("");
    // lineWidth 0: never fold long values (ARNs, e-mails) across lines.
    return comments(header) + documents.map((d) => `---\n${comments(d.comment)}${toYaml(d.body, { lineWidth: 0 })}`).join("");
}

/**
 * Kubernetes objects as multi-document YAML, each as applied; a patch is headed by a comment
 * saying so, and the header explains such comments when there is a patch.
 */
export function kubernetesYaml(header: string[], objects: KubernetesObject[]): string {
    const patches = objects.some((o) => o.patch)
        ? ["Documents headed `# Patch` are server-side-apply patches of objects the stack does not own: `up` sets only the fields they list."]
        : [];
    return yamlDocuments(
        [...header, ...patches],
        objects.map((o) => ({
            ...(o.patch
                ? {
                      comment: [
                          `Patch (${o.type}, server-side apply): \`up\` sets only the fields below on ${str(o.object.kind)} ${qualifiedName(o)};`,
                          "the object's other fields are not the stack's and stay as they are.",
                      ],
                  }
                : {}),
            body: o.object,
        })),
    );
}
