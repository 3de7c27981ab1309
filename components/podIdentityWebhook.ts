// The Amazon EKS Pod Identity Webhook on a self-managed cluster (aws/amazon-eks-pod-identity-webhook):
// it injects AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE and the projected sts.amazonaws.com token into
// pods whose service account has the eks.amazonaws.com/role-arn annotation — what EKS does itself.
//
// TLS: a CA and a serving certificate from @pulumi/tls (no cert-manager needed; the CA goes into
// the MutatingWebhookConfiguration's caBundle). failurePolicy Ignore, as the upstream manifests
// (a webhook outage must not stop every pod in the cluster, kube-system's included; pods created
// during one start without AWS credentials and must be restarted). So two replicas, kept apart
// (anti-affinity: a node failure takes at most one) and never both drained at once (a
// PodDisruptionBudget of one available: node drains and upgrades wait for the other).

import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { STS_AUDIENCE } from "../domain/trustPolicy";

export const WEBHOOK_NAMESPACE = "pod-identity-webhook";
const NAME = "pod-identity-webhook";
const PORT = 9443;
/** The webhook's certificate; renewed by `up` when less than a quarter of it is left. */
const CERT_HOURS = 24 * 365;

export interface PodIdentityWebhookArgs {
    image: string;
    /** Injected as AWS_DEFAULT_REGION, with regional STS endpoints (cn-* has no global one). */
    region: string;
    provider?: k8s.Provider;
}

export class PodIdentityWebhook extends pulumi.ComponentResource {
    public readonly configuration: k8s.admissionregistration.v1.MutatingWebhookConfiguration;

    constructor(name: string, args: PodIdentityWebhookArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeflow-irsa:cluster:PodIdentityWebhook", name, {}, opts);
        const k = { parent: this, provider: args.provider };
        const t = { parent: this };
        const labels = { app: NAME };
        const dnsNames = [`${NAME}.${WEBHOOK_NAMESPACE}.svc`, `${NAME}.${WEBHOOK_NAMESPACE}.svc.cluster.local`];

        const caKey = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "RSA", rsaBits: 2048 }, t);
        const ca = new tls.SelfSignedCert(
            `${name}-ca`,
            {
                privateKeyPem: caKey.privateKeyPem,
                isCaCertificate: true,
                validityPeriodHours: 10 * CERT_HOURS,
                earlyRenewalHours: 2 * CERT_HOURS,
                allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
                subject: { commonName: `${NAME} CA (kubeflow-irsa)` },
            },
            t,
        );
        const serverKey = new tls.PrivateKey(`${name}-key`, { algorithm: "RSA", rsaBits: 2048 }, t);
        const request = new tls.CertRequest(`${name}-csr`, { privateKeyPem: serverKey.privateKeyPem, dnsNames, subject: { commonName: dnsNames[0] } }, t);
        const cert = new tls.LocallySignedCert(
            `${name}-cert`,
            {
                certRequestPem: request.certRequestPem,
                caPrivateKeyPem: caKey.privateKeyPem,
                caCertPem: ca.certPem,
                validityPeriodHours: CERT_HOURS,
                earlyRenewalHours: CERT_HOURS / 4,
                allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
            },
            t,
        );

        const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: WEBHOOK_NAMESPACE } }, k);
        const inNamespace = { name: NAME, namespace: WEBHOOK_NAMESPACE, labels };
        const after = { ...k, dependsOn: [namespace] };
        const account = new k8s.core.v1.ServiceAccount(`${name}-sa`, { metadata: inNamespace }, after);
        const role = new k8s.rbac.v1.ClusterRole(`${name}-role`, { metadata: { name: NAME, labels }, rules: [{ apiGroups: [""], resources: ["serviceaccounts"], verbs: ["get", "watch", "list"] }] }, k);
        new k8s.rbac.v1.ClusterRoleBinding(
            `${name}-binding`,
            {
                metadata: { name: NAME, labels },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: NAME },
                subjects: [{ kind: "ServiceAccount", name: NAME, namespace: WEBHOOK_NAMESPACE }],
            },
            { ...k, dependsOn: [role, account] },
        );
        const secret = new k8s.core.v1.Secret(
            `${name}-tls`,
            { metadata: { name: `${NAME}-tls`, namespace: WEBHOOK_NAMESPACE, labels }, type: "kubernetes.io/tls", stringData: { "tls.crt": cert.certPem, "tls.key": serverKey.privateKeyPem } },
            after,
        );
        const deployment = new k8s.apps.v1.Deployment(
            `${name}-deployment`,
            {
                metadata: inNamespace,
                spec: {
                    replicas: 2,
                    selector: { matchLabels: labels },
                    template: {
                        // A new certificate rolls the pods: the webhook reads its key pair at start.
                        metadata: { labels, annotations: { "kubeflow-irsa/cert-serial": cert.id } },
                        spec: {
                            serviceAccountName: NAME,
                            // Preferred, not required: a one-node cluster still runs both, and a rolling
                            // update's surge pod still schedules on a two-node cluster.
                            affinity: {
                                podAntiAffinity: {
                                    preferredDuringSchedulingIgnoredDuringExecution: [
                                        { weight: 100, podAffinityTerm: { labelSelector: { matchLabels: labels }, topologyKey: "kubernetes.io/hostname" } },
                                        { weight: 50, podAffinityTerm: { labelSelector: { matchLabels: labels }, topologyKey: "topology.kubernetes.io/zone" } },
                                    ],
                                },
                            },
                            securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: "RuntimeDefault" } },
                            containers: [
                                {
                                    name: NAME,
                                    image: args.image,
                                    command: [
                                        "/webhook",
                                        "--in-cluster=false",
                                        `--namespace=${WEBHOOK_NAMESPACE}`,
                                        `--service-name=${NAME}`,
                                        `--port=${PORT}`,
                                        "--tls-cert=/etc/webhook/certs/tls.crt",
                                        "--tls-key=/etc/webhook/certs/tls.key",
                                        "--annotation-prefix=eks.amazonaws.com",
                                        `--token-audience=${STS_AUDIENCE}`,
                                        `--aws-default-region=${args.region}`,
                                        "--sts-regional-endpoint=true",
                                        "--logtostderr",
                                    ],
                                    // Ready only once it serves TLS: the API server calls it from then on.
                                    readinessProbe: { httpGet: { scheme: "HTTPS", path: "/healthz", port: PORT }, periodSeconds: 5 },
                                    ports: [{ name: "https", containerPort: PORT }],
                                    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                                    resources: { requests: { cpu: "25m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                                    volumeMounts: [{ name: "certs", mountPath: "/etc/webhook/certs", readOnly: true }],
                                },
                            ],
                            volumes: [{ name: "certs", secret: { secretName: `${NAME}-tls` } }],
                        },
                    },
                },
            },
            { ...k, dependsOn: [secret, account] },
        );
        new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, { metadata: inNamespace, spec: { minAvailable: 1, selector: { matchLabels: labels } } }, after);
        const service = new k8s.core.v1.Service(
            `${name}-service`,
            { metadata: inNamespace, spec: { selector: labels, ports: [{ name: "https", port: 443, targetPort: PORT }] } },
            after,
        );
        this.configuration = new k8s.admissionregistration.v1.MutatingWebhookConfiguration(
            `${name}-configuration`,
            {
                metadata: { name: NAME, labels },
                webhooks: [
                    {
                        name: "pod-identity-webhook.amazonaws.com",
                        // v1beta1 only: v0.6.17 answers without apiVersion/kind, which the API server accepts
                        // for v1beta1 reviews alone (upstream fixed that after this release).
                        admissionReviewVersions: ["v1beta1"],
                        timeoutSeconds: 3,
                        sideEffects: "None",
                        failurePolicy: "Ignore",
                        clientConfig: { service: { name: NAME, namespace: WEBHOOK_NAMESPACE, path: "/mutate", port: 443 }, caBundle: ca.certPem.apply((pem) => Buffer.from(pem).toString("base64")) },
                        rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] }],
                        // The webhook's own pods are never sent to it.
                        namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: [WEBHOOK_NAMESPACE] }] },
                        // Upstream's opt-out label for a pod.
                        objectSelector: { matchExpressions: [{ key: "eks.amazonaws.com/skip-pod-identity-webhook", operator: "DoesNotExist" }] },
                    },
                ],
            },
            // Registered only once something serves it.
            { ...k, dependsOn: [deployment, service] },
        );
        this.registerOutputs({});
    }
}
