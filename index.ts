// kubeflow-irsa: config → component → stack outputs. Everything else lives in components/ and providers/.
import * as pulumi from "@pulumi/pulumi";
import { readStackConfig } from "./components/config";
import { deployerAccount, KubeflowIrsa, needsDeployerAccount } from "./components/kubeflowIrsa";

const config = readStackConfig();
// Only when an awsIamRole ARN names a role this stack creates does placement need the account the
// stack deploys to (an STS call); every other stack is built at once, as a plain module.
const stack = needsDeployerAccount(config)
    ? deployerAccount(config).then((accountId) => new KubeflowIrsa("kubeflow-irsa", { ...config, accountId }))
    : new KubeflowIrsa("kubeflow-irsa", config);

type Exported =
    | "clusterName"
    | "oidcProviderArn"
    | "oidcIssuer"
    | "kfAdminRoleArn"
    | "kfUserRoleArn"
    | "kfUserRoleArns"
    | "profileRoleArns"
    | "controllerRoleArns"
    | "podIdentityExternalIds"
    | "kubeconfig";
function output<K extends Exported>(key: K): KubeflowIrsa[K] {
    return (stack instanceof Promise ? pulumi.output(stack.then((s) => s[key])) : stack[key]) as KubeflowIrsa[K];
}

export const clusterName = output("clusterName");
export const oidcProviderArn = output("oidcProviderArn");
export const oidcIssuer = output("oidcIssuer");
export const kfAdminRoleArn = output("kfAdminRoleArn");
export const kfUserRoleArn = output("kfUserRoleArn");
export const kfUserRoleArns = output("kfUserRoleArns");
export const profileRoleArns = output("profileRoleArns");
export const controllerRoleArns = output("controllerRoleArns");
export const podIdentityExternalIds = output("podIdentityExternalIds");
export const kubeconfig = output("kubeconfig");
