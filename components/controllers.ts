// The control plane's AWS callers: which Kubeflow-on-AWS controllers need AWS, the reviewed policy
// each one needs, and the service accounts each one runs as. One table, used by config defaults,
// placement (role names, trust), roles (policies) and Pod Identity bindings.
//
// `adminRoleMode: shared` (kfctl's design): kf-admin holds every component's policy and trusts
// every admin service account. `perController`: each component gets its own role, with only its
// own policy, trusted only by its own service accounts; kf-admin keeps the rest (by default just
// its anchor, which no pod can hold) and no policy.

export const ALB_CONTROLLERS = ["v2", "v1"] as const;
/** v2: the AWS Load Balancer Controller (Kubeflow on AWS since 1.4); v1: the alb-ingress-controller of Kubeflow 1.1. */
export type AlbController = (typeof ALB_CONTROLLERS)[number];
export const ADMIN_ROLE_MODES = ["shared", "perController"] as const;
export type AdminRoleMode = (typeof ADMIN_ROLE_MODES)[number];


export type ComponentId = "loadBalancerController" | "logShipper" | "fsxCsiDriver";

export interface ControlPlaneComponent {
    /** The key of the `controllerRoleArns` output. */
    id: ComponentId;
    /** The role-name part: `kf-<short>-<region>-<cluster>` (shorter than `kf-admin`, so it fits whenever kf-admin does). */
    short: string;
    /** What it is, for role descriptions and messages. */
    title: string;
    /** The reviewed policy in components/policies/<policy>.json. */
    policy: string;
    /** `namespace:name` service accounts it runs as. */
    serviceAccounts: string[];
}

export interface ComponentSelection {
    albController: AlbController;
    enableFsx: boolean;
    /** The log shipper's `namespace:name` service accounts. @default DEFAULT_LOG_SHIPPER_SERVICE_ACCOUNTS */
    logShipperServiceAccounts?: readonly string[];
}

/**
 * kfctl's fluentd (Kubeflow 1.1 manifests, kfctl pkg/kfapp/aws/identity.go): what every stack
 * trusted before the key existed, so it stays the default — an upgrade never drops a trusted
 * account. Kubeflow on AWS ≥ 1.4 ships logs with Container Insights' Fluent Bit instead
 * (awslabs/kubeflow-manifests CloudWatch add-on: amazon-cloudwatch:fluent-bit).
 */
export const DEFAULT_LOG_SHIPPER_SERVICE_ACCOUNTS: readonly string[] = ["kubeflow:fluentd"];
/** Container Insights' Fluent Bit DaemonSet (aws-samples/amazon-cloudwatch-container-insights). */
export const CONTAINER_INSIGHTS_FLUENT_BIT = "amazon-cloudwatch:fluent-bit";

/** The load balancer controller of each generation: its policy and service account. */
const LOAD_BALANCER_CONTROLLERS: Record<AlbController, Pick<ControlPlaneComponent, "title" | "policy" | "serviceAccounts">> = {
    // kubernetes-sigs/aws-load-balancer-controller, Helm chart's default service account.
    v2: { title: "AWS Load Balancer Controller", policy: "aws-load-balancer-controller", serviceAccounts: ["kube-system:aws-load-balancer-controller"] },
    // Kubeflow 1.1's manifests (kfctl pkg/kfapp/aws/identity.go).
    v1: { title: "alb-ingress-controller", policy: "alb-ingress", serviceAccounts: ["kubeflow:alb-ingress-controller"] },
};

/** The components that call AWS, in a fixed order (the order of kf-admin's policies). */
export function controlPlaneComponents(selection: ComponentSelection): ControlPlaneComponent[] {
    return [
        { id: "loadBalancerController", short: "lbc", ...LOAD_BALANCER_CONTROLLERS[selection.albController] },
        {
            id: "logShipper",
            short: "logs",
            title: "fluentd log shipper",
            policy: "cloudwatch-logs",
            serviceAccounts: [...(selection.logShipperServiceAccounts ?? DEFAULT_LOG_SHIPPER_SERVICE_ACCOUNTS)],
        },
        ...(selection.enableFsx
            ? [{ id: "fsxCsiDriver" as const, short: "fsx", title: "FSx for Lustre CSI driver", policy: "fsx-lustre-csi", serviceAccounts: ["kube-system:fsx-csi-controller-sa"] }]
            : []),
    ];
}

/** kfctl's own kf-admin service account: the IRSA anchor of kfctl's roles, never a default binding. */
export const KF_ADMIN_SERVICE_ACCOUNT = "kubeflow:kf-admin";

/**
 * kf-admin's service accounts when `adminServiceAccounts` is not set: only accounts that call AWS
 * (Kubeflow's profile controller with `annotateOnly` makes no AWS call). In perController mode the
 * components' accounts are trusted by their own roles, so kf-admin keeps only its anchor, which
 * no pod can hold. kfctl's `kubeflow:kf-admin` is not among them in either mode: it was only ever
 * an anchor of IRSA trust policies, and trusted (IRSA) or associated (podIdentity) it lets any pod
 * running as it take kf-admin's control-plane rights. List it in adminServiceAccounts to bind it.
 */
export function defaultAdminServiceAccounts(selection: ComponentSelection & { adminRoleMode: AdminRoleMode }): string[] {
    if (selection.adminRoleMode === "perController") return [];
    return controlPlaneComponents(selection).flatMap((c) => c.serviceAccounts);
}

/** The name of a component's own role (perController mode). */
export function componentRoleName(component: Pick<ControlPlaneComponent, "short">, region: string, clusterName: string): string {
    return `kf-${component.short}-${region}-${clusterName}`;
}

/**
 * What a hand-written adminServiceAccounts list (shared mode) may have left behind: kf-admin carries
 * a component's policy but trusts none of its accounts (a list written for the other albController,
 * say), or trusts the other load balancer controller's account. Warnings, not errors: a component
 * may run elsewhere, and trusting both controllers is how a v1 → v2 migration goes.
 */
export function controlPlaneWarnings(config: ComponentSelection & { adminRoleMode: AdminRoleMode; adminServiceAccounts: string[] }): string[] {
    const trusted = new Set(config.adminServiceAccounts);
    const warnings: string[] = trusted.has(KF_ADMIN_SERVICE_ACCOUNT)
        ? [
              `kubeflow-irsa:adminServiceAccounts binds ${KF_ADMIN_SERVICE_ACCOUNT}, kfctl's anchor: any pod running as it gets kf-admin's control-plane rights; remove it unless a workload of yours runs as it`,
          ]
        : [];
    if (config.adminRoleMode !== "shared") return warnings;
    for (const component of controlPlaneComponents(config)) {
        if (!component.serviceAccounts.some((sa) => trusted.has(sa))) {
            warnings.push(
                `kf-admin carries the ${component.title}'s policy (${component.policy}) but kubeflow-irsa:adminServiceAccounts trusts none of its service accounts (${component.serviceAccounts.join(", ")}); add it, or leave adminServiceAccounts unset for the defaults`,
            );
        }
    }
    const other: AlbController = config.albController === "v2" ? "v1" : "v2";
    for (const sa of LOAD_BALANCER_CONTROLLERS[other].serviceAccounts.filter((s) => trusted.has(s))) {
        warnings.push(
            `kubeflow-irsa:adminServiceAccounts trusts ${sa}, the ${LOAD_BALANCER_CONTROLLERS[other].title}'s account, while albController is ${config.albController}: kf-admin holds the ${LOAD_BALANCER_CONTROLLERS[config.albController].title}'s policy; remove it once the migration is done`,
        );
    }
    return warnings;
}
