// kubeflow-irsa: config → component → stack outputs. Everything else lives in components/ and providers/.
import { readStackConfig } from "./components/config";
import { KubeflowIrsa } from "./components/kubeflowIrsa";

const stack = new KubeflowIrsa("kubeflow-irsa", readStackConfig());

export const clusterName = stack.clusterName;
export const oidcProviderArn = stack.oidcProviderArn;
export const oidcIssuer = stack.oidcIssuer;
export const kfAdminRoleArn = stack.kfAdminRoleArn;
export const kfUserRoleArn = stack.kfUserRoleArn;
export const kfUserRoleArns = stack.kfUserRoleArns;
export const profileRoleArns = stack.profileRoleArns;
export const kubeconfig = stack.kubeconfig;
